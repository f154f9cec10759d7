/**
 * The bench wrapper: our worker's main module in the load runs and the profile. It imports the
 * bundle, re-exports its Durable Object classes (Miniflare needs them from the main module) and
 * passes every request to the bundle's fetch, except two bench-only paths it answers itself (they
 * never reach the worker):
 *   GET /__bench/kv       the KV operations the worker has made so far: the env the worker gets has
 *                         its KV bindings wrapped in counters (kv-counter.ts);
 *   GET /__bench/purges   the purge coordinator's status() (purge-verify.ts), called from inside
 *                         workerd with every RPC result disposed (through Miniflare's Node proxy
 *                         the results are never disposed, and workerd warns about it).
 * A request pays one `endsWith` on its URL for them.
 */

/** The paths the wrapper answers itself. */
export const KV_COUNTS_PATH = "/__bench/kv";
export const COORDINATOR_STATUS_PATH = "/__bench/purges";
/** The wrapper's module name (the bundle keeps its own, so profiles still name it). */
export const WRAPPER_MODULE = "__bench_wrapper.js";

/** What the wrapper is built around. */
export interface WrapperOptions {
  /** The bundle's module name and the Durable Object classes it exports. */
  bundleModule: string;
  classes: string[];
  /** KV binding names whose operations are counted. */
  countKv: string[];
  /** The purge coordinator: its namespace binding and object name (absent: no status path). */
  coordinator?: { binding: string; name: string };
}

/** The wrapper's source. */
export function benchWrapper(o: WrapperOptions): string {
  const from = JSON.stringify(`./${o.bundleModule}`);
  return `import worker from ${from};
${o.classes.length ? `export { ${o.classes.join(", ")} } from ${from};\n` : ""}
const counts = { gets: 0, keys: 0, puts: 0, lists: 0, deletes: 0 };
const keysIn = (k) => (Array.isArray(k) ? k.length : 1);
function counting(kv) {
  return {
    get(...a) { counts.gets++; counts.keys += keysIn(a[0]); return kv.get(...a); },
    getWithMetadata(...a) { counts.gets++; counts.keys += keysIn(a[0]); return kv.getWithMetadata(...a); },
    put(...a) { counts.puts++; return kv.put(...a); },
    list(...a) { counts.lists++; return kv.list(...a); },
    delete(...a) { counts.deletes++; return kv.delete(...a); },
  };
}
const wrapped = new WeakMap();
function wrap(env) {
  let w = wrapped.get(env);
  if (!w) {
    w = { ...env };
    for (const name of ${JSON.stringify(o.countKv)}) if (env[name]) w[name] = counting(env[name]);
    wrapped.set(env, w);
  }
  return w;
}
const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
const COORDINATOR = ${JSON.stringify(o.coordinator ?? null)};
async function coordinatorStatus(env) {
  const ns = COORDINATOR && env[COORDINATOR.binding];
  if (!ns) return json({ error: "no coordinator binding" }, 404);
  const id = ns.idFromName(COORDINATOR.name);
  const stub = ns.get(id);
  try {
    const status = await stub.status();
    const body = { id: id.toString(), ...status };
    status[Symbol.dispose]?.();
    return json(body);
  } finally {
    stub[Symbol.dispose]?.();
  }
}
export default {
  fetch(request, env, ctx) {
    const url = request.url;
    if (url.endsWith(${JSON.stringify(KV_COUNTS_PATH)}) && new URL(url).pathname === ${JSON.stringify(KV_COUNTS_PATH)}) return json(counts);
    if (url.endsWith(${JSON.stringify(COORDINATOR_STATUS_PATH)}) && new URL(url).pathname === ${JSON.stringify(COORDINATOR_STATUS_PATH)}) return coordinatorStatus(env);
    return worker.fetch(request, wrap(env), ctx);
  },
};
`;
}
