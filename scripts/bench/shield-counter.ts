/**
 * Origin shield operations, counted in a bench-only wrapper around our worker (Miniflare counts
 * nothing), like kv-counter.ts counts KV. The wrapper is the worker's main module:
 *
 * - location side: the worker gets an env whose SHIELD namespace hands out stubs that count every
 *   RPC call (`fill`: one Durable Object request per call, `peek`: explain's);
 * - object side: the bundle's OriginShield is re-exported as a subclass that counts the `fill`
 *   calls it receives and sees its own Durable Object storage and R2 bucket through counting
 *   wrappers (the storage is replaced on the object's `ctx` before the shield's constructor reads
 *   it: an own property shadowing the prototype's getter; SHIELD_BUCKET in the env it is given).
 *
 * GET /__bench/shield answers the counts so far (that request never reaches the worker). Counts
 * are per isolate (module scope): in Miniflare each worker is one isolate, and the Durable Objects
 * a worker defines run in that worker's isolate, so the host worker's counts are its objects'.
 */
import { BenchError } from "./common.ts";

/** The bench-only path the wrapper answers itself. */
export const SHIELD_COUNTS_PATH = "/__bench/shield";
/** The wrapper's module name (the bundle keeps its own). */
export const SHIELD_WRAPPER_MODULE = "__bench_shield.js";

export const STORAGE_OPS = ["get", "put", "delete", "list", "getAlarm", "setAlarm", "deleteAlarm", "deleteAll"] as const;
export const R2_OPS = ["put", "get", "head", "delete", "list"] as const;

/** Shield calls made (location side) and received (object side) in one isolate since it started. */
export interface ShieldCounts {
  /** RPC calls on SHIELD stubs: `fill` (a location's miss), `peek` (explain). */
  fills: number;
  peeks: number;
  /** `fill` calls received by the shield objects this isolate hosts. */
  objectFills: number;
  /** Whether the objects' storage could be wrapped (false: storage counts are 0, not counted). */
  storageCounted: boolean;
  storage: Record<(typeof STORAGE_OPS)[number], number>;
  r2: Record<(typeof R2_OPS)[number], number>;
}

/**
 * The wrapper's source, for a bundle whose module is `bundleModule` and exports OriginShield and
 * the other Durable Object classes `otherClasses` (re-exported as they are).
 */
export function shieldCounterWrapper(bundleModule: string, otherClasses: string[]): string {
  const from = JSON.stringify(`./${bundleModule}`);
  const zero = (ops: readonly string[]) => `{ ${ops.map((o) => `${o}: 0`).join(", ")} }`;
  return `import worker, { OriginShield as BundledShield } from ${from};
${otherClasses.length ? `export { ${otherClasses.join(", ")} } from ${from};\n` : ""}
const counts = { fills: 0, peeks: 0, objectFills: 0, storageCounted: false, storage: ${zero(STORAGE_OPS)}, r2: ${zero(R2_OPS)} };

/** A namespace whose stubs count RPC calls (the shield client uses idFromName and get only). */
function countingNamespace(ns) {
  return {
    idFromName: (name) => ns.idFromName(name),
    idFromString: (s) => ns.idFromString(s),
    newUniqueId: (o) => ns.newUniqueId(o),
    get(id, options) {
      const stub = ns.get(id, options);
      return {
        id: stub.id,
        fill(...a) { counts.fills++; return stub.fill(...a); },
        peek(...a) { counts.peeks++; return stub.peek(...a); },
      };
    },
  };
}

/** Count the calls named in \`table\`; everything else passes to the real object (methods bound to it). */
function counting(target, table) {
  return new Proxy(target, {
    get(t, p) {
      const v = Reflect.get(t, p);
      if (typeof v !== "function") return v;
      if (typeof p === "string" && p in table) return (...a) => { table[p]++; return v.apply(t, a); };
      return v.bind(t);
    },
  });
}

const wrapped = new WeakMap();
function locationEnv(env) {
  let w = wrapped.get(env);
  if (!w) {
    w = { ...env };
    if (env.SHIELD) w.SHIELD = countingNamespace(env.SHIELD);
    wrapped.set(env, w);
  }
  return w;
}

export class OriginShield extends BundledShield {
  constructor(ctx, env) {
    try {
      Object.defineProperty(ctx, "storage", { value: counting(ctx.storage, counts.storage), configurable: true });
      counts.storageCounted = true;
    } catch {
      counts.storageCounted = false;
    }
    super(ctx, env.SHIELD_BUCKET ? { ...env, SHIELD_BUCKET: counting(env.SHIELD_BUCKET, counts.r2) } : env);
  }
  fill(req) {
    counts.objectFills++;
    return super.fill(req);
  }
}

const PATH = ${JSON.stringify(SHIELD_COUNTS_PATH)};
export default {
  fetch(request, env, ctx) {
    const url = request.url;
    if (url.endsWith(PATH) && new URL(url).pathname === PATH) {
      return new Response(JSON.stringify(counts), { headers: { "content-type": "application/json", "cache-control": "no-store" } });
    }
    return worker.fetch(request, locationEnv(env), ctx);
  },
};
`;
}

/** One isolate's counts so far. */
export async function readShieldCounts(workerUrl: string): Promise<ShieldCounts> {
  const res = await fetch(workerUrl + SHIELD_COUNTS_PATH, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200) throw new BenchError(`${SHIELD_COUNTS_PATH}: expected 200 from the bench wrapper, got ${res.status}: ${body.slice(0, 200)}`);
  const c = JSON.parse(body) as Partial<ShieldCounts>;
  if (typeof c.fills !== "number" || typeof c.objectFills !== "number" || !c.storage || !c.r2) {
    throw new BenchError(`${SHIELD_COUNTS_PATH}: not the wrapper's counts: ${body.slice(0, 200)}`);
  }
  return c as ShieldCounts;
}

/** `after - before`, field by field. */
export function countsDelta(before: ShieldCounts, after: ShieldCounts): ShieldCounts {
  const sub = <T extends Record<string, number>>(a: T, b: T): T => {
    const out = { ...a };
    for (const k of Object.keys(a) as (keyof T)[]) out[k] = ((a[k] ?? 0) - (b[k] ?? 0)) as T[keyof T];
    return out;
  };
  return {
    fills: after.fills - before.fills,
    peeks: after.peeks - before.peeks,
    objectFills: after.objectFills - before.objectFills,
    storageCounted: after.storageCounted,
    storage: sub(after.storage, before.storage),
    r2: sub(after.r2, before.r2),
  };
}

/** The sum of several isolates' counts (e.g. every location of a fleet). */
export function countsSum(all: ShieldCounts[]): ShieldCounts {
  const zero = (ops: readonly string[]) => Object.fromEntries(ops.map((o) => [o, 0]));
  const total: ShieldCounts = {
    fills: 0, peeks: 0, objectFills: 0, storageCounted: all.some((c) => c.storageCounted),
    storage: zero(STORAGE_OPS) as ShieldCounts["storage"], r2: zero(R2_OPS) as ShieldCounts["r2"],
  };
  for (const c of all) {
    total.fills += c.fills;
    total.peeks += c.peeks;
    total.objectFills += c.objectFills;
    for (const o of STORAGE_OPS) total.storage[o] += c.storage[o];
    for (const o of R2_OPS) total.r2[o] += c.r2[o];
  }
  return total;
}
