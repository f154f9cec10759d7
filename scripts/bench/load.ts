/**
 * Load generation: one autocannon run per target and connection count, the same settings for every
 * target (keep-alive, pipelining 1, a short unmeasured warm-up on a different path first), with
 * latencies recorded at full (sub-ms) resolution from autocannon's response events.
 */
import autocannon from "autocannon";
import { percentile } from "./common.ts";
import type { KvPerRequest } from "./kv-counter.ts";
import type { PurgeFindings } from "./purge-verify.ts";

/** autocannon replaces "[<id>]" with a unique, URL-safe id in every request (idReplacement). */
export const UNIQUE = "[<id>]";

/** One measured run of one target at one connection count. */
export interface Measured {
  target: string;
  description: string;
  connections: number;
  url: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  notes: string[];
  /** KV operations the worker made during the measured run (our worker's targets only). */
  kv?: KvPerRequest;
  /** What the coordinator recorded and published (purge targets only). */
  purge?: PurgeFindings;
}

interface LoadResult {
  completed: number;
  seconds: number;
  latencies: Float64Array;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Epoch ms of the last 2xx response (NaN: none). */
  lastResponseAt: number;
}

/** A request other than a plain GET: method, headers, body ("[<id>]" in the body is replaced too). */
export interface RequestShape {
  method: "POST" | "PUT" | "DELETE";
  headers: Record<string, string>;
  body: string;
}

/** One autocannon run against `url` (`unique`: "[<id>]" in it, and in a body, is replaced per request). */
export function load(url: string, seconds: number, connections: number, unique: boolean, request?: RequestShape): Promise<LoadResult> {
  return new Promise((done, fail) => {
    let lat = new Float64Array(1 << 16);
    let n = 0;
    let lastResponseAt = Number.NaN;
    const instance = autocannon({
      url,
      connections,
      duration: seconds,
      pipelining: 1,
      timeout: 10,
      idReplacement: unique,
      ...request,
    }, (err: unknown, result: autocannon.Result) => {
      if (err) return fail(err instanceof Error ? err : new Error(String(err)));
      done({
        completed: result.requests.total,
        seconds: result.duration,
        latencies: lat.subarray(0, n),
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        lastResponseAt,
      });
    });
    // The tracker emits (client, statusCode, bytes, ms) for every response; @types/autocannon omits `client`.
    (instance as unknown as NodeJS.EventEmitter).on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status < 200 || status > 299) return;
      lastResponseAt = Date.now();
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = ms;
    });
  });
}

/** How long and how hard to drive a target. */
export interface LoadSettings {
  duration: number;
  warmup: number;
  connections: number;
  /** Called after the warm-up, right before / after the measured run (the profiler starts and stops here). */
  hooks?: { before(): Promise<void>; after(): Promise<void> };
}

/**
 * What to drive: `path` is measured, `warmPath` (a different URL space) is driven unmeasured first.
 * With `request`, each request is that (a POST with a body, say), and `warmBody` replaces its body
 * during the warm-up.
 */
export interface LoadTarget {
  target: string;
  description: string;
  base: string;
  path: string;
  warmPath: string;
  unique: boolean;
  request?: RequestShape & { warmBody: string };
}

/** Warm up, then measure one target; returns throughput and latency percentiles (ms). */
export async function measure(s: LoadSettings, t: LoadTarget): Promise<Measured> {
  return (await measureRun(s, t)).measured;
}

/** `measure`, plus the epoch ms of the run's last 2xx response (NaN: none). */
export async function measureRun(s: LoadSettings, t: LoadTarget): Promise<{ measured: Measured; lastResponseAt: number }> {
  const shape = (body?: string): RequestShape | undefined =>
    t.request && { method: t.request.method, headers: t.request.headers, body: body ?? t.request.body };
  if (s.warmup > 0) await load(t.base + t.warmPath, s.warmup, s.connections, t.unique, shape(t.request?.warmBody));
  await s.hooks?.before();
  const r = await load(t.base + t.path, s.duration, s.connections, t.unique, shape());
  await s.hooks?.after();
  const sorted = r.latencies.slice().sort();
  const measured: Measured = {
    target: t.target, description: t.description, connections: s.connections, url: t.base + t.path,
    requests: r.completed,
    seconds: r.seconds,
    rps: r.seconds > 0 ? r.completed / r.seconds : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    notes: [],
  };
  return { measured, lastResponseAt: r.lastResponseAt };
}
