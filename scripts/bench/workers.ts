/**
 * Workers in Miniflare, for the load runs and the profile: our worker bundled in memory with
 * esbuild (unminified, with a source map so profiles name src/ lines), each worker in its own
 * Miniflare (its own workerd process) reached on Miniflare's own URL, not through `wrangler dev`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { type BenchBindings, miniflareBindings } from "./bindings.ts";
import { BenchError, ROOT } from "./common.ts";

/** The bench's bundle of src/index.ts: the code Miniflare runs and the map the profile reads. */
export interface WorkerBundle {
  /** The module's name in Miniflare (also its URL in CPU profiles). */
  name: string;
  code: string;
  /** esbuild's source map (JSON), sources relative to the repository root. */
  map: string;
}

/** Bundle src/index.ts as the bench runs it (the deploy build is measured separately, see build.ts). */
export async function bundleWorker(): Promise<WorkerBundle> {
  const result = await esbuild.build({
    entryPoints: [join(ROOT, "src/index.ts")],
    absWorkingDir: ROOT,
    outfile: join(ROOT, "index.js"),
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2024",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    sourcemap: "external",
    logLevel: "silent",
  });
  const code = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".js.map"));
  if (!code || !map) throw new BenchError("esbuild produced no output for src/index.ts");
  return { name: "index.js", code: code.text, map: map.text };
}

/** The worker's compatibility date, as deployed: wrangler.toml's top-level compatibility_date. */
export function compatibilityDate(): string {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const m = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml);
  if (!m?.[1]) throw new BenchError("wrangler.toml has no top-level compatibility_date");
  return m[1];
}

/** One ES-module worker for `startWorker`. */
export interface WorkerSpec {
  name: string;
  /** The main module's source (named `moduleName`, default "index.js"). */
  script: string;
  moduleName?: string;
  bindings: BenchBindings;
  compatDate: string;
  /** Open workerd's inspector on a free port (for the CPU profile). */
  inspector?: boolean;
}

/** Miniflare options shared by every worker the bench starts (quiet, no dev registry, no telemetry). */
export const QUIET: Pick<MiniflareOptions, "enableDevRegistry" | "logRequests" | "telemetry"> = {
  enableDevRegistry: false,
  logRequests: false,
  telemetry: { enabled: false },
};

/** Miniflare 5's native options for one worker (the same shape for ours and every baseline). */
export function workerOptions(spec: WorkerSpec): MiniflareOptions {
  const moduleName = spec.moduleName ?? "index.js";
  const { env, exports } = miniflareBindings(spec.bindings, spec.name);
  return {
    ...QUIET,
    ...(spec.inspector ? { inspectorPort: 0 } : {}),
    workers: [{
      config: {
        name: spec.name,
        compatibilityDate: spec.compatDate,
        manifest: { mainModule: moduleName, modules: { [moduleName]: { type: "esm", contents: spec.script } } },
        env,
        exports,
      },
    }],
  };
}

export interface RunningWorker {
  name: string;
  url: string;
  mf: Miniflare;
  dispose(): Promise<void>;
}

/** Start one worker in its own Miniflare; disposed again if it does not become ready. */
export async function startWorker(spec: WorkerSpec): Promise<RunningWorker> {
  const mf = new Miniflare(workerOptions(spec));
  try {
    const url = await mf.ready;
    return { name: spec.name, url: url.origin, mf, dispose: () => mf.dispose() };
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw new BenchError(`worker ${spec.name} did not start: ${(e as Error).message}`);
  }
}
