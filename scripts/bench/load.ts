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
  /** Responses whose body the target's `verifyBody` refused (only when it has one). */
  mismatches?: number;
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
  mismatches: number;
  /** Epoch ms of the last 2xx response (NaN: none). */
  lastResponseAt: number;
}

/** A request other than a plain GET: method, headers, body ("[<id>]" in the body is replaced too). */
export interface RequestShape {
  method: "POST" | "PUT" | "DELETE";
  headers: Record<string, string>;
  body: string;
}

/** What a GET run sends and checks besides the URL: headers, and a check of every response's body. */
export interface GetShape {
  headers?: Record<string, string>;
  /** false counts the response in `mismatches` (autocannon reads every body anyway: this costs one call). */
  verifyBody?: (body: string) => boolean;
}

/**
 * One autocannon run against `url` (`unique`: "[<id>]" in it, and in a body, is replaced per request).
 * `get`: headers sent with every GET (a visitor's Cookie, say; a `request` brings its own) and a body check.
 */
export function load(
  url: string, seconds: number, connections: number, unique: boolean, request?: RequestShape, get: GetShape = {},
): Promise<LoadResult> {
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
      ...(get.headers ? { headers: get.headers } : {}),
      // autocannon hands it the body it gathered as a string (its types allow a Buffer or nothing).
      ...(get.verifyBody ? { verifyBody: (body: string | Buffer | undefined) => get.verifyBody!(String(body ?? "")) } : {}),
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
        mismatches: result.mismatches ?? 0,
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
  /** Request headers for every GET of the warm-up and the run (e.g. a session cookie). */
  headers?: Record<string, string>;
  /** Every measured response's body must pass this (counted in Measured.mismatches; checkRun fails on any). */
  verifyBody?: (body: string) => boolean;
}

/** Warm up, then measure one target; returns throughput and latency percentiles (ms). */
export async function measure(s: LoadSettings, t: LoadTarget): Promise<Measured> {
  return (await measureRun(s, t)).measured;
}

/** `measure`, plus the epoch ms of the run's last 2xx response (NaN: none). */
export async function measureRun(s: LoadSettings, t: LoadTarget): Promise<{ measured: Measured; lastResponseAt: number }> {
  const shape = (body?: string): RequestShape | undefined =>
    t.request && { method: t.request.method, headers: t.request.headers, body: body ?? t.request.body };
  const get: GetShape = { ...(t.headers ? { headers: t.headers } : {}) };
  if (s.warmup > 0) await load(t.base + t.warmPath, s.warmup, s.connections, t.unique, shape(t.request?.warmBody), get);
  await s.hooks?.before();
  const r = await load(t.base + t.path, s.duration, s.connections, t.unique, shape(), { ...get, ...(t.verifyBody ? { verifyBody: t.verifyBody } : {}) });
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
    ...(t.verifyBody ? { mismatches: r.mismatches } : {}),
    notes: [],
  };
  return { measured, lastResponseAt: r.lastResponseAt };
}
