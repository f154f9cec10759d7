/**
 * Workers in Miniflare, for the load runs and the profile: our worker bundled in memory with
 * esbuild (unminified, with a source map so profiles name src/ lines), each worker in its own
 * Miniflare (its own workerd process) reached on Miniflare's own URL, not through `wrangler dev`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { type BenchBindings, durableObjectClasses, miniflareBindings } from "./bindings.ts";
import { BenchError, ROOT } from "./common.ts";
import { benchWrapper, WRAPPER_MODULE } from "./wrapper.ts";

/** Our worker's name in Miniflare (and its inspector target, core:user:<name>). */
export const EDGE_CACHE_WORKER = "edge-cache";

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
  /** Further ES modules the main one imports, by name (e.g. the bundle under a bench wrapper). */
  modules?: Record<string, string>;
  bindings: BenchBindings;
  compatDate: string;
  /** Open workerd's inspector on a free port (for the CPU profile). */
  inspector?: boolean;
  /** Where the worker's console lines go (default: Miniflare's, to this process's stdout/stderr). */
  logs?: LogTap;
}

/**
 * The worker's console lines, with chosen events counted and kept out of the output (the purge
 * API logs one info line per purge: thousands a run). Everything else is printed as Miniflare would.
 */
export interface LogTap {
  handle(log: { level: string; message: string }): void;
  /** Lines of `"event":"<event>"` seen so far (only for the events the tap was made to count). */
  count(event: string): number;
}

/** A LogTap that counts and swallows the info lines of `events` (JSON lines with that "event"). */
export function logTap(events: string[]): LogTap {
  const counts = new Map(events.map((e) => [e, 0]));
  const markers = events.map((e) => [e, `"event":${JSON.stringify(e)}`] as const);
  return {
    handle({ level, message }) {
      if (level !== "error" && level !== "warn") {
        const hit = markers.find(([, m]) => message.includes(m));
        if (hit) return void counts.set(hit[0], (counts.get(hit[0]) ?? 0) + 1);
      }
      if (level === "error" || level === "warn") console.error(message);
      else console.log(message);
    },
    count: (event) => counts.get(event) ?? 0,
  };
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
  const modules: Record<string, { type: "esm"; contents: string }> = {};
  for (const [name, contents] of Object.entries(spec.modules ?? {})) modules[name] = { type: "esm", contents };
  modules[moduleName] = { type: "esm", contents: spec.script };
  return {
    ...QUIET,
    ...(spec.inspector ? { inspectorPort: 0 } : {}),
    ...(spec.logs ? { handleStructuredLogs: spec.logs.handle } : {}),
    workers: [{
      config: {
        name: spec.name,
        compatibilityDate: spec.compatDate,
        manifest: { mainModule: moduleName, modules },
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
  /** The worker's console lines, when started with a tap. */
  logs?: LogTap;
  dispose(): Promise<void>;
}

/** Start one worker in its own Miniflare; disposed again if it does not become ready. */
export async function startWorker(spec: WorkerSpec): Promise<RunningWorker> {
  const mf = new Miniflare(workerOptions(spec));
  try {
    const url = await mf.ready;
    return { name: spec.name, url: url.origin, mf, ...(spec.logs ? { logs: spec.logs } : {}), dispose: () => mf.dispose() };
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw new BenchError(`worker ${spec.name} did not start: ${(e as Error).message}`);
  }
}

/**
 * The purge coordinator's object name (src/app.ts COORDINATOR_NAME; that module does not load in
 * Node). A wrong name shows: the bench then finds two PURGES objects and stops.
 */
export const COORDINATOR_NAME = "purge-coordinator";

/**
 * Our worker as the load runs and the profile start it: the bundle under the bench wrapper
 * (wrapper.ts: KV counts, the coordinator's status), which re-exports the bundle's classes.
 */
export function edgeCacheSpec(bundle: WorkerBundle, bindings: BenchBindings, compatDate: string, inspector = false): WorkerSpec {
  return {
    logs: logTap(["purge"]),
    name: EDGE_CACHE_WORKER,
    script: benchWrapper({
      bundleModule: bundle.name,
      classes: durableObjectClasses(bindings),
      countKv: bindings.kvNamespaces,
      ...(bindings.durableObjects.PURGES ? { coordinator: { binding: "PURGES", name: COORDINATOR_NAME } } : {}),
    }),
    moduleName: WRAPPER_MODULE,
    modules: { [bundle.name]: bundle.code },
    bindings,
    compatDate,
    inspector,
  };
}
