/**
 * Running the project's own wrangler (node_modules) as a child process, offline and quiet: no
 * banner and update check, no metrics, no request for Cloudflare's `cf` object. The bundle size
 * is measured on what `wrangler deploy` would upload, so it is built by wrangler, not re-created.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BenchError, ROOT } from "./common.ts";

/** wrangler's CLI entry (bin/wrangler.js of the installed package). */
function wranglerBin(): string {
  const require = createRequire(join(ROOT, "package.json"));
  return join(dirname(require.resolve("wrangler/package.json")), "bin/wrangler.js");
}

/** Run `wrangler <args>` in the repository root; resolves with stdout, a non-zero exit is a BenchError. */
export function wrangler(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [wranglerBin(), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_HIDE_BANNER: "true",
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        NO_COLOR: "1",
        FORCE_COLOR: "0",
        CI: "true",
      },
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      fail(new BenchError(`wrangler ${args[0]}: ${e.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return done(out);
      const tail = `${err}\n${out}`.trim().split("\n").slice(-12).join("\n");
      fail(new BenchError(`wrangler ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}
