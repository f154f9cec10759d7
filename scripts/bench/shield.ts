/**
 * The origin shield target (issue 13): what the shield saves the origin, what it adds to a miss,
 * what it costs in Durable Object, storage and R2 operations, and how fast a stale copy answers
 * when the origin hangs. Not a load run: fixed rounds of requests, each side of every comparison
 * measured in this invocation, in one Miniflare (one workerd process) holding:
 *
 *   shield-host      our worker, defining the OriginShield (and PurgeCoordinator) classes: every
 *                    other worker's SHIELD binding is its namespace, so its objects (and their
 *                    storage and R2 operations) are counted in its isolate;
 *   on-{a,b,c}-{1,2} 3 "locations" x 2 "isolates" with the shield on: each worker is its own isolate
 *                    (memory tier, coalescer); the two of a location share a Cache API store
 *                    (cacheName), locations do not; all share KV, the SHIELD namespace and R2;
 *   off-{a,b,c}-{1,2} the same with the shield off (the baseline);
 *   stale-*          the stale-answer variants (originTimeoutMs 5000; see STALE_VARIANTS).
 *
 * Every worker is our bundle under the bench's shield-counting wrapper (shield-counter.ts), with
 * the bindings of bindings.ts (SHIELD and PURGES: the host's namespaces; TAGS and SHIELD_BUCKET
 * shared by name), reached on its own socket (Miniflare's direct sockets) with keep-alive
 * connections from this process, always with the same Host (SHIELD_HOST). Origin requests are
 * counted by the test origin itself (its counter, or its request log for scripted paths), never
 * from our headers.
 */
import { Agent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { Miniflare, type MiniflareOptions } from "miniflare";
import type { ResponseSpec } from "../../test/origin/protocol.ts";
import { type BenchBindings, edgeCacheBindings, miniflareBindings } from "./bindings.ts";
import { BenchError, expect, percentile } from "./common.ts";
import { type OriginProcess, originRequests, scriptOrigin } from "./origin.ts";
import {
  countsDelta, countsSum, readShieldCounts, SHIELD_WRAPPER_MODULE, type ShieldCounts, shieldCounterWrapper,
} from "./shield-counter.ts";
import { QUIET, type WorkerBundle } from "./workers.ts";

/** The experiment's sizes (the JSON's `shield.setup`). */
export const SHIELD_SETUP = {
  locations: 3,
  isolatesPerLocation: 2,
  /** Origin load: cold keys, concurrent requests per key (round-robin over every isolate), origin delay. */
  keys: 20,
  concurrency: 30,
  originDelayMs: 100,
  /** Latency: cold keys measured one request at a time, each side (the origin answers at once). */
  latencyKeys: 30,
  /** Large bodies (kept in R2 by the shield) and their size. */
  largeKeys: 3,
  largeBytes: 2 * 1024 * 1024 + 17,
  /** Stale: keys per variant; the origin's timeout and how long the hung origin takes to answer. */
  staleKeys: 8,
  originTimeoutMs: 5000,
  hangMs: 10_000,
  defaultStaleWaitMs: 1000,
} as const;

const HOST = "shield-host";
const LOCATIONS = ["a", "b", "c"].slice(0, SHIELD_SETUP.locations);

/** Latency figures of one series (ms; nearest-rank percentiles). */
export interface Series {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
  samples: number[];
}

export function series(samples: number[]): Series {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sorted.reduce((s, x) => s + x, 0) / sorted.length : Number.NaN,
    samples: samples.map((x) => Math.round(x * 1000) / 1000),
  };
}

/** Origin requests per key in the concurrency round, one mode. */
export interface OriginPerKey {
  /** Origin requests for each key (from the origin's log), in key order. */
  perKey: number[];
  mean: number;
  max: number;
  min: number;
  /** Client requests per key and the isolates they were spread over. */
  requestsPerKey: number;
  isolates: number;
  /** Durable Object requests (shield fill RPCs) the locations made, per key (0 with the shield off). */
  doRequestsPerKey: number;
  /** How the answers were labelled (X-Cache value -> count), for the reader. */
  xCache: Record<string, number>;
  /** Cache-Status values (ttl and age numbers replaced by N) -> count. */
  cacheStatus: Record<string, number>;
  /** Wall time of one key's round (ms): the slowest of its concurrent answers. */
  roundMs: Series;
}

/** Operation counts over one phase, and per location request. */
export interface OpsRow {
  row: string;
  /** Client requests in the phase (all answered at a location). */
  requests: number;
  /** Shield fill RPCs the locations made (Durable Object requests). */
  doRequests: number;
  /** Fill calls the shield objects received (equal to doRequests unless one was lost). */
  objectFills: number;
  storage: ShieldCounts["storage"];
  r2: ShieldCounts["r2"];
  /** Origin requests the phase caused (the origin's record). */
  originRequests: number;
}

/** One stale-answer variant. */
export interface StaleResult {
  variant: string;
  description: string;
  shield: boolean;
  staleWaitMs: number;
  /** The same situation with staleWaitMs = originTimeoutMs (its variant name), when measured. */
  oldBehaviour?: string;
  latency: Series;
  /** Answers that were the stale copy (body "old" and a Cache-Status with fwd=stale). */
  staleAnswers: number;
  cacheStatus: string;
}

export interface ShieldFindings {
  setup: typeof SHIELD_SETUP & { isolates: number; workers: string[] };
  originLoad: { off: OriginPerKey; on: OriginPerKey };
  latency: {
    /** Cold location miss, shield off: straight to the origin. */
    missOff: Series;
    /** Cold location miss through a cold shield (the shield fetches the origin). */
    missOn: Series;
    /** Location miss answered by a warm shield (another location filled it). */
    missShieldHit: Series;
    /** Location hits (from the location's Cache API: the other isolate of the location, whose memory tier does not hold the key). */
    hitOff: Series;
    hitOn: Series;
  };
  ops: OpsRow[];
  /** Whether the shield objects' storage operations were counted (see shield-counter.ts). */
  storageCounted: boolean;
  stale: StaleResult[];
  notes: string[];
}

/** One worker of the fleet. */
interface FleetWorker {
  name: string;
  edgeConfig: Record<string, unknown>;
}

/**
 * The stale variants: each asks its own worker, so the origin cool-down an isolate enters after a
 * timeout stays there. `oldBehaviour`: the variant that is the same situation with staleWaitMs =
 * originTimeoutMs (waiting for the timeout, as before staleWaitMs), for contrast.
 */
const STALE_VARIANTS: readonly StaleVariant[] = [
  { variant: "off, staleWaitMs 1000", shield: false, staleWaitMs: SHIELD_SETUP.defaultStaleWaitMs, prime: "stale-off", ask: "stale-off",
    description: "shield off; the location's own stale copy", oldBehaviour: "off, staleWaitMs 5000" },
  { variant: "off, staleWaitMs 5000", shield: false, staleWaitMs: SHIELD_SETUP.originTimeoutMs, prime: "stale-off-wait", ask: "stale-off-wait",
    description: "shield off; the location's own stale copy, staleWaitMs = originTimeoutMs (the old behaviour: wait for the timeout)" },
  { variant: "on, own copy", shield: true, staleWaitMs: SHIELD_SETUP.defaultStaleWaitMs, prime: "stale-on-p", ask: "stale-on-p",
    description: "shield on; the location has its own stale copy (so has the shield)" },
  { variant: "on, shield's copy", shield: true, staleWaitMs: SHIELD_SETUP.defaultStaleWaitMs, prime: "stale-on-p", ask: "stale-on-q",
    description: "shield on; another location, with nothing of its own: the shield's stale copy", oldBehaviour: "on, shield's copy, wait 5000" },
  { variant: "on, shield's copy, wait 5000", shield: true, staleWaitMs: SHIELD_SETUP.originTimeoutMs, prime: "stale-on-p", ask: "stale-on-wait-q",
    description: "shield on; another location, staleWaitMs = originTimeoutMs (the old behaviour)" },
];

interface StaleVariant {
  variant: string;
  description: string;
  shield: boolean;
  staleWaitMs: number;
  /** The worker that fills the keys, and the one asked once they are stale. */
  prime: string;
  ask: string;
  oldBehaviour?: string;
}

function fleetWorkers(): FleetWorker[] {
  const on = { shield: { enabled: true } };
  const workers: FleetWorker[] = [{ name: HOST, edgeConfig: { cacheName: "shield-host", ...on } }];
  for (const mode of ["on", "off"] as const) {
    for (const loc of LOCATIONS) {
      for (let i = 1; i <= SHIELD_SETUP.isolatesPerLocation; i++) {
        workers.push({ name: `${mode}-${loc}-${i}`, edgeConfig: { cacheName: `${mode}-${loc}`, ...(mode === "on" ? on : {}) } });
      }
    }
  }
  const stale = { originTimeoutMs: SHIELD_SETUP.originTimeoutMs };
  const wait = { staleWaitMs: SHIELD_SETUP.originTimeoutMs };
  workers.push(
    { name: "stale-off", edgeConfig: { cacheName: "stale-off", ...stale } },
    { name: "stale-off-wait", edgeConfig: { cacheName: "stale-off-wait", ...stale, ...wait } },
    { name: "stale-on-p", edgeConfig: { cacheName: "stale-on-p", ...stale, ...on } },
    { name: "stale-on-q", edgeConfig: { cacheName: "stale-on-q", ...stale, ...on } },
    { name: "stale-on-wait-q", edgeConfig: { cacheName: "stale-on-wait-q", ...stale, ...wait, ...on } },
  );
  return workers;
}

/** Our bindings (bindings.ts), with the shield's made sure of (SHIELD, SHIELD_BUCKET), and one worker's EDGE_CONFIG. */
export function shieldBindings(originUrl: string, edgeConfig: Record<string, unknown>): BenchBindings {
  const b = edgeCacheBindings(originUrl);
  return {
    ...b,
    vars: { ...b.vars, EDGE_CONFIG: edgeConfig },
    r2Buckets: [...new Set([...b.r2Buckets, "SHIELD_BUCKET"])],
    durableObjects: { ...b.durableObjects, SHIELD: "OriginShield" },
  };
}

/** The running fleet: each worker's direct URL. */
interface ShieldFleet {
  mf: Miniflare;
  url: Map<string, string>;
  origin: OriginProcess;
  /** Warnings and errors the workers logged (reported in the target's notes). */
  logged: string[];
  /** Dispose of the fleet (once; also registered as a cleanup). */
  dispose(): Promise<void>;
}

async function startShieldFleet(bundle: WorkerBundle, origin: OriginProcess, compatDate: string, cleanups: (() => Promise<void>)[]): Promise<ShieldFleet> {
  const defs = fleetWorkers();
  const logged: string[] = [];
  const classes = [...new Set(Object.values(shieldBindings(origin.url, {}).durableObjects))];
  const script = shieldCounterWrapper(bundle.name, classes.filter((c) => c !== "OriginShield"));
  const options: MiniflareOptions = {
    ...QUIET,
    handleStructuredLogs: ({ level, message }) => {
      if (level === "error" || level === "warn") logged.push(message);
      else console.log(message);
    },
    workers: defs.map((d) => {
      const { env, exports } = miniflareBindings(shieldBindings(origin.url, d.edgeConfig), d.name, d.name === HOST ? undefined : HOST);
      return {
        config: {
          name: d.name,
          compatibilityDate: compatDate,
          manifest: {
            mainModule: SHIELD_WRAPPER_MODULE,
            modules: { [bundle.name]: { type: "esm", contents: bundle.code }, [SHIELD_WRAPPER_MODULE]: { type: "esm", contents: script } },
          },
          env,
          exports,
        },
        dev: { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] },
      };
    }),
  };
  const mf = new Miniflare(options);
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await mf.dispose();
  };
  cleanups.push(dispose);
  try {
    await mf.ready;
    const url = new Map<string, string>();
    for (const d of defs) url.set(d.name, (await mf.unsafeGetDirectURL(d.name)).origin);
    return { mf, url, origin, logged, dispose };
  } catch (e) {
    await dispose().catch(() => {});
    throw new BenchError(`shield fleet did not start: ${(e as Error).message}`);
  }
}

function urlOf(fleet: ShieldFleet, name: string): string {
  const u = fleet.url.get(name);
  if (!u) throw new BenchError(`shield: no worker named ${name}`);
  return u;
}

interface Answer {
  status: number;
  body: string;
  xCache: string | null;
  cacheStatus: string | null;
  originCount: string | null;
  ms: number;
}

/**
 * The Host every location is asked with: the cache key includes the request's host, and each
 * worker listens on its own port, so without one name the locations would not share keys (nor
 * shield objects). Node's fetch sets Host itself; node:http sends the one given.
 */
export const SHIELD_HOST = "www.example.com";
const agent = new Agent({ keepAlive: true });

/** One GET with Host: SHIELD_HOST, timed from before the request until its body has been read. */
function get(url: string, timeoutMs = 30_000): Promise<Answer> {
  const t0 = performance.now();
  return new Promise<Answer>((done, fail) => {
    const req = request(url, { agent, headers: { host: SHIELD_HOST }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", fail);
      res.on("end", () => {
        const h = (name: string) => {
          const v = res.headers[name];
          return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
        };
        done({
          status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - t0,
          xCache: h("x-cache"), cacheStatus: h("cache-status"), originCount: h("x-origin-count"),
        });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => fail(new BenchError(`shield: ${url} did not answer: ${e.message}`)));
    req.end();
  });
}

const describe = (a: Answer) => `${a.status}, X-Cache ${a.xCache}, Cache-Status ${a.cacheStatus}`;

/** Location-side shield RPCs summed over `names`, and the host's (object-side) counts. */
async function snapshot(fleet: ShieldFleet, names: string[]): Promise<{ locations: ShieldCounts; host: ShieldCounts }> {
  const locations = countsSum(await Promise.all(names.map((n) => readShieldCounts(urlOf(fleet, n)))));
  return { locations, host: await readShieldCounts(urlOf(fleet, HOST)) };
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

function opsRow(row: string, requests: number, before: Snapshot, after: Snapshot, origin: number): OpsRow {
  const loc = countsDelta(before.locations, after.locations);
  const host = countsDelta(before.host, after.host);
  return { row, requests, doRequests: loc.fills, objectFills: host.objectFills, storage: host.storage, r2: host.r2, originRequests: origin };
}

const isolatesOf = (mode: "on" | "off") =>
  LOCATIONS.flatMap((loc) => Array.from({ length: SHIELD_SETUP.isolatesPerLocation }, (_, i) => `${mode}-${loc}-${i + 1}`));

/** A few requests on every worker first: the app, its Cache API probe and the origin connection are set up outside the measurements. */
async function warmUp(fleet: ShieldFleet, run: string): Promise<void> {
  for (const [name, base] of fleet.url) {
    if (name === HOST) continue;
    for (let i = 0; i < 3; i++) {
      const a = await get(`${base}/t/bench/shield-warm-${run}-${name}-${i}`);
      expect(a.status === 200, `shield warm-up ${name}: expected 200, got ${describe(a)}: ${a.body.slice(0, 500)} ${fleet.logged.join("\n")}`);
    }
  }
}

/** 1. Origin requests per key: `concurrency` concurrent cold requests per key over every isolate of a mode. */
async function originLoad(fleet: ShieldFleet, mode: "on" | "off", run: string): Promise<OriginPerKey> {
  const { keys, concurrency, originDelayMs } = SHIELD_SETUP;
  const isolates = isolatesOf(mode);
  const paths = Array.from({ length: keys }, (_, k) => `/t/bench/shield-load-${mode}-${run}-${k}`);
  for (const p of paths) await scriptOrigin(fleet.origin.url, p, { delayMs: originDelayMs, headers: { "cache-control": "public, max-age=300" }, body: `shield ${p}\n` });
  const before = await snapshot(fleet, isolates);
  const perKey: number[] = [];
  const rounds: number[] = [];
  const xCache: Record<string, number> = {};
  const cacheStatus: Record<string, number> = {};
  for (const p of paths) {
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: concurrency }, (_, i) => get(urlOf(fleet, isolates[i % isolates.length] ?? "") + p)));
    rounds.push(performance.now() - t0);
    for (const a of answers) {
      expect(a.status === 200 && a.body === `shield ${p}\n`, `shield load (${mode}) ${p}: expected 200 with the origin's body, got ${describe(a)}`);
      xCache[a.xCache ?? "none"] = (xCache[a.xCache ?? "none"] ?? 0) + 1;
      const cs = (a.cacheStatus ?? "none").replace(/\b(ttl|age)=-?\d+/g, "$1=N");
      cacheStatus[cs] = (cacheStatus[cs] ?? 0) + 1;
    }
    if (mode === "on") {
      expect(answers.some((a) => a.cacheStatus?.startsWith("edge-cache-shield; fwd=uri-miss")),
        `shield load (on) ${p}: no answer came through the shield (Cache-Status: ${answers[0]?.cacheStatus})`);
    } else {
      expect(answers.every((a) => !a.cacheStatus?.includes("edge-cache-shield")), `shield load (off) ${p}: an answer came through the shield`);
    }
    perKey.push((await originRequests(fleet.origin.url, p)).length);
  }
  const after = await snapshot(fleet, isolates);
  const fills = countsDelta(before.locations, after.locations).fills;
  expect(mode === "on" || fills === 0, `shield load (off): the locations made ${fills} shield requests`);
  return {
    perKey, mean: perKey.reduce((s, x) => s + x, 0) / perKey.length, max: Math.max(...perKey), min: Math.min(...perKey),
    requestsPerKey: concurrency, isolates: isolates.length, doRequestsPerKey: fills / keys, xCache, cacheStatus, roundMs: series(rounds),
  };
}

/**
 * 2 and 4. Cold misses one at a time, shield off and on alternately (the origin answers at once:
 * unscripted paths, its counter must say 1); then hits on each location's other isolate; then the
 * shield-on keys at another location (misses the warm shield answers). Operation counts per phase.
 */
async function latencyAndOps(fleet: ShieldFleet, run: string, ops: OpsRow[]): Promise<ShieldFindings["latency"]> {
  const n = SHIELD_SETUP.latencyKeys;
  const onIsolates = isolatesOf("on");
  const [offMiss, offHit, onMiss, onHit, onOther] = ["off-a-1", "off-a-2", "on-a-1", "on-a-2", "on-b-1"].map((w) => urlOf(fleet, w)) as [string, string, string, string, string];
  const path = (mode: string, i: number) => `/t/bench/shield-lat-${mode}-${run}-${i}`;
  const missOff: number[] = [];
  const missOn: number[] = [];
  let before = await snapshot(fleet, onIsolates);
  for (let i = 0; i < n; i++) {
    const off = async () => {
      const a = await get(offMiss + path("off", i));
      expect(a.status === 200 && a.xCache === "MISS" && a.originCount === "1", `shield latency: cold miss (off) expected MISS from the origin's first request, got ${describe(a)}, X-Origin-Count ${a.originCount}`);
      missOff.push(a.ms);
    };
    const on = async () => {
      const a = await get(onMiss + path("on", i));
      expect(a.status === 200 && a.xCache === "MISS, MISS" && a.originCount === "1" && !!a.cacheStatus?.startsWith("edge-cache-shield; fwd=uri-miss"),
        `shield latency: cold miss (on) expected X-Cache MISS, MISS through the shield, got ${describe(a)}, X-Origin-Count ${a.originCount}`);
      missOn.push(a.ms);
    };
    // Alternate which side goes first, so neither always follows the other.
    if (i % 2) {
      await on();
      await off();
    } else {
      await off();
      await on();
    }
  }
  await sleep(500); // the locations' and the shield's stores run in waitUntil, after the response
  let after = await snapshot(fleet, onIsolates);
  ops.push(opsRow("location miss, shield fills (cold key)", n, before, after, n));

  const hitOff: number[] = [];
  const hitOn: number[] = [];
  before = after;
  for (let i = 0; i < n; i++) {
    for (const [base, mode, out] of [[offHit, "off", hitOff], [onHit, "on", hitOn]] as const) {
      const a = await get(base + path(mode, i));
      expect(a.status === 200 && a.xCache === "HIT", `shield latency: location hit (${mode}) expected X-Cache HIT from the location's Cache API, got ${describe(a)}`);
      out.push(a.ms);
    }
  }
  after = await snapshot(fleet, onIsolates);
  ops.push(opsRow("location hit", n, before, after, 0));

  const missShieldHit: number[] = [];
  before = after;
  for (let i = 0; i < n; i++) {
    const a = await get(onOther + path("on", i));
    expect(a.status === 200 && a.xCache === "HIT, MISS" && a.originCount === "1",
      `shield latency: another location's miss expected X-Cache HIT, MISS (the shield's copy), got ${describe(a)}`);
    missShieldHit.push(a.ms);
  }
  await sleep(300);
  after = await snapshot(fleet, onIsolates);
  // The origin's counter for each path: still 1 (reading it is one more request, not counted).
  let seen = 0;
  for (let i = 0; i < n; i++) seen += Number((await get(`${fleet.origin.url}${path("on", i)}`)).originCount) - 1;
  expect(seen === n, `shield latency: the origin saw ${seen} requests for ${n} shield-on keys; expected ${n}`);
  ops.push(opsRow("location miss, shield hit", n, before, after, seen - n));
  return { missOff: series(missOff), missOn: series(missOn), missShieldHit: series(missShieldHit), hitOff: series(hitOff), hitOn: series(hitOn) };
}

/** 4. Bodies over 1 MiB: the shield keeps them in R2 (one put per fill, one get per shield hit). */
async function largeBodies(fleet: ShieldFleet, run: string, ops: OpsRow[]): Promise<void> {
  const { largeKeys, largeBytes } = SHIELD_SETUP;
  const onIsolates = isolatesOf("on");
  const body = "x".repeat(largeBytes);
  const paths = Array.from({ length: largeKeys }, (_, k) => `/t/bench/shield-large-${run}-${k}`);
  for (const p of paths) await scriptOrigin(fleet.origin.url, p, { headers: { "cache-control": "public, max-age=300", "content-type": "text/plain" }, body });
  const check = (a: Answer, x: string) => expect(a.status === 200 && a.body.length === largeBytes && a.xCache === x,
    `shield large body: expected 200, ${largeBytes} bytes, X-Cache ${x}; got ${a.status}, ${a.body.length} bytes, X-Cache ${a.xCache}`);
  let before = await snapshot(fleet, onIsolates);
  for (const p of paths) check(await get(urlOf(fleet, "on-a-1") + p), "MISS, MISS");
  await sleep(500);
  let after = await snapshot(fleet, onIsolates);
  ops.push(opsRow(`location miss, shield fills, body ${(largeBytes / 1048576).toFixed(0)} MiB`, largeKeys, before, after, largeKeys));
  before = after;
  for (const p of paths) check(await get(urlOf(fleet, "on-c-1") + p), "HIT, MISS");
  await sleep(300);
  after = await snapshot(fleet, onIsolates);
  let origin = 0;
  for (const p of paths) origin += (await originRequests(fleet.origin.url, p)).length;
  expect(origin === largeKeys, `shield large body: the origin saw ${origin} requests for ${largeKeys} keys; expected ${largeKeys}`);
  ops.push(opsRow(`location miss, shield hit, body ${(largeBytes / 1048576).toFixed(0)} MiB`, largeKeys, before, after, origin - largeKeys));
}

/**
 * 3. Stale within a second: keys filled with max-age=1, left to expire, then asked for while the
 * origin hangs (answers after hangMs; originTimeoutMs 5000). Every variant's requests are in
 * flight together, before any origin timeout (after one, an isolate's origin is in its cool-down
 * and no longer waited for at all).
 */
async function staleAnswers(fleet: ShieldFleet, run: string): Promise<StaleResult[]> {
  const { staleKeys, hangMs } = SHIELD_SETUP;
  const keys = STALE_VARIANTS.map((v, vi) => Array.from({ length: staleKeys }, (_, k) => `/t/bench/shield-stale-${run}-${vi}-${k}`));
  const fresh: ResponseSpec = { headers: { "cache-control": "public, max-age=1" }, body: "old" };
  const hung: ResponseSpec = { delayMs: hangMs, headers: { "cache-control": "public, max-age=60" }, body: "new" };
  for (const p of keys.flat()) await scriptOrigin(fleet.origin.url, p, fresh, hung);
  await Promise.all(STALE_VARIANTS.flatMap((v, vi) => (keys[vi] ?? []).map(async (p) => {
    const a = await get(urlOf(fleet, v.prime) + p);
    expect(a.status === 200 && a.body === "old", `shield stale: priming ${p} at ${v.prime} expected 200 "old", got ${describe(a)}`);
  })));
  await sleep(1600); // past max-age=1 (and the memory tier's 1 s) everywhere
  const answers = await Promise.all(STALE_VARIANTS.map((v, vi) => Promise.all((keys[vi] ?? []).map((p) => get(urlOf(fleet, v.ask) + p)))));
  return STALE_VARIANTS.map((v, vi) => {
    const a = answers[vi] ?? [];
    for (const x of a) expect(x.status === 200, `shield stale (${v.variant}): expected 200, got ${describe(x)}`);
    return {
      variant: v.variant, description: v.description, shield: v.shield, staleWaitMs: v.staleWaitMs,
      ...(v.oldBehaviour ? { oldBehaviour: v.oldBehaviour } : {}),
      latency: series(a.map((x) => x.ms)),
      staleAnswers: a.filter((x) => x.body === "old" && !!x.cacheStatus?.includes("fwd=stale")).length,
      cacheStatus: a[0]?.cacheStatus ?? "",
    };
  });
}

/** Run the shield target: start its fleet, run the rounds, dispose of it. */
export async function runShield(bundle: WorkerBundle, origin: OriginProcess, compatDate: string, cleanups: (() => Promise<void>)[],
  progress: (line: string) => void): Promise<ShieldFindings> {
  const fleet = await startShieldFleet(bundle, origin, compatDate, cleanups);
  const run = `${process.pid}-${Date.now().toString(36)}`;
  try {
    await warmUp(fleet, run);
    progress(`shield: origin requests per key, ${SHIELD_SETUP.keys} keys x ${SHIELD_SETUP.concurrency} concurrent requests, shield off then on`);
    const off = await originLoad(fleet, "off", run);
    const on = await originLoad(fleet, "on", run);
    progress(`shield: latency, ${SHIELD_SETUP.latencyKeys} cold keys each side, one request at a time; large bodies`);
    const ops: OpsRow[] = [];
    const latency = await latencyAndOps(fleet, run, ops);
    await largeBodies(fleet, run, ops);
    const host = await readShieldCounts(urlOf(fleet, HOST));
    progress(`shield: stale answers with a hung origin (${STALE_VARIANTS.length} variants x ${SHIELD_SETUP.staleKeys} keys, about 7 s)`);
    const stale = await staleAnswers(fleet, run);
    const notes: string[] = [];
    if (fleet.logged.length) notes.push(`the workers logged ${fleet.logged.length} warnings/errors during the target (first: ${fleet.logged[0]?.slice(0, 300)})`);
    return {
      setup: { ...SHIELD_SETUP, isolates: isolatesOf("on").length, workers: [...fleet.url.keys()] },
      originLoad: { off, on }, latency, ops, storageCounted: host.storageCounted, stale, notes,
    };
  } finally {
    // The hung origin requests of the stale round are still open: disposing ends them.
    await fleet.dispose().catch(() => {});
    agent.destroy();
  }
}
