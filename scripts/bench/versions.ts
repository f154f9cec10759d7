/**
 * Versions of everything that shapes the numbers (printed and in --json), so two runs can be
 * compared only when they were made with the same runtime and tools.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as esbuild from "esbuild";

function packageVersion(name: string, from: string = import.meta.url): string {
  try {
    const req = createRequire(from);
    let dir = dirname(req.resolve(name));
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? "?";
      } catch { /* keep walking up */ }
      const up = dirname(dir);
      if (up === dir) return "?";
      dir = up;
    }
  } catch {
    return "?";
  }
}

/** Node, Miniflare, workerd (as Miniflare resolves it), autocannon, esbuild, wrangler. */
export function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const miniflareEntry = require.resolve("miniflare");
  return {
    node: process.version,
    miniflare: packageVersion("miniflare"),
    workerd: packageVersion("workerd", miniflareEntry),
    autocannon: packageVersion("autocannon"),
    esbuild: esbuild.version,
    wrangler: packageVersion("wrangler"),
  };
}
