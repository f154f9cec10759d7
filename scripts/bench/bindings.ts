/**
 * The bindings and vars our worker gets in the bench, written once, here: the load runs, the CPU
 * profile and the startup measurement all build their Miniflare options from `edgeCacheBindings`,
 * so a binding the worker starts to need (a Durable Object namespace, an R2 bucket) is added in one
 * place and no phase measures a worker configured differently from the others.
 */
import type { MiniflareWorkerConfig } from "miniflare";

/** A worker's `env` and `exports` in Miniflare 5's native worker config. */
export type WorkerEnv = NonNullable<MiniflareWorkerConfig["env"]>;
export type WorkerExports = NonNullable<MiniflareWorkerConfig["exports"]>;

/** What a bench worker is given, in wrangler's vocabulary (converted by `miniflareBindings`). */
export interface BenchBindings {
  /** Vars and secrets: strings become text bindings, anything else a JSON binding (like a TOML table in [vars]). */
  vars: Record<string, unknown>;
  /** KV namespace binding names; each is its own empty, in-memory namespace. */
  kvNamespaces: string[];
  /** R2 bucket binding names; each is its own empty local bucket (named like the binding). */
  r2Buckets: string[];
  /** Durable Object namespace binding name -> class exported by the worker's main module (SQLite-backed). */
  durableObjects: Record<string, string>;
}

/** The token the bench sets as PURGE_TOKEN (long enough for validateSecrets); the purge target sends it. */
export const BENCH_PURGE_TOKEN = "bench-purge-token-0123456789abcdef";

/**
 * Our worker's bindings, as wrangler.toml's top level gives them: the TAGS KV namespace (the purge
 * journal and per-tag keys), the PURGES Durable Object namespace (class PurgeCoordinator), and the
 * origin shield's SHIELD namespace (class OriginShield) with its SHIELD_BUCKET R2 bucket (unused
 * while EDGE_CONFIG leaves the shield off, as here). The classes are SQLite-backed, exported by the
 * bundle and re-exported by the bench's wrapper. The one place to add one.
 */
export function edgeCacheBindings(originUrl: string): BenchBindings {
  return {
    vars: {
      ORIGIN_URL: originUrl,
      CACHE_VERSION: "bench",
      PURGE_TOKEN: BENCH_PURGE_TOKEN,
      // Miniflare pipes every console.log line through Node: the per-request log line would be
      // measured instead of the cache. (In production, logs cost the worker next to nothing.)
      LOG_REQUESTS: "false",
    },
    kvNamespaces: ["TAGS"],
    r2Buckets: ["SHIELD_BUCKET"],
    durableObjects: { PURGES: "PurgeCoordinator", SHIELD: "OriginShield" },
  };
}

/** Bindings for the baseline workers: vars only. */
export function varsOnly(vars: Record<string, unknown>): BenchBindings {
  return { vars, kvNamespaces: [], r2Buckets: [], durableObjects: {} };
}

export interface MiniflareBindings {
  env: WorkerEnv;
  exports: WorkerExports;
}

/**
 * Convert to Miniflare 5's native `env` / `exports` for the worker named `workerName`. Durable
 * Object classes are exported by that worker, unless `durableObjectHost` names another worker that
 * exports them (the startup measurement's wrapper does not re-export the classes: see doStubWorker).
 */
export function miniflareBindings(b: BenchBindings, workerName: string, durableObjectHost?: string): MiniflareBindings {
  const env: WorkerEnv = {};
  const exports: WorkerExports = {};
  for (const [name, value] of Object.entries(b.vars)) {
    env[name] = typeof value === "string" ? { type: "text", value } : { type: "json", value: value as never };
  }
  for (const name of b.kvNamespaces) env[name] = { type: "kv", id: name };
  for (const name of b.r2Buckets) env[name] = { type: "r2", name };
  for (const [name, className] of Object.entries(b.durableObjects)) {
    env[name] = { type: "durable-object", worker: durableObjectHost ?? workerName, exportName: className };
    if (!durableObjectHost) exports[className] = { type: "durable-object", storage: "sqlite" };
  }
  return { env, exports };
}

/** The Durable Object class names the bindings refer to (deduplicated). */
export function durableObjectClasses(b: BenchBindings): string[] {
  return [...new Set(Object.values(b.durableObjects))];
}

/**
 * A worker that exports an empty Durable Object class for each name: gives a worker whose own
 * classes are not exported from its main module real namespace bindings (never called).
 */
export function doStubWorker(classNames: string[]): { script: string; exports: WorkerExports } {
  const exports: WorkerExports = {};
  const lines = ['import { DurableObject } from "cloudflare:workers";'];
  for (const name of classNames) {
    lines.push(`export class ${name} extends DurableObject {}`);
    exports[name] = { type: "durable-object", storage: "sqlite" };
  }
  lines.push('export default { fetch() { return new Response("stub"); } };');
  return { script: `${lines.join("\n")}\n`, exports };
}
