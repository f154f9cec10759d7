/**
 * Correctness checks around the measured runs (plain fetch on separate connections): a throughput
 * number is only worth printing if the path under test did what it claims, so every HIT must be a
 * HIT (and the origin see nothing), every MISS must reach the origin, and no run may have errors.
 * A failed check is a BenchError (exit 1); a missed performance target never is.
 */
import { BenchError, expect } from "./common.ts";
import type { Measured } from "./load.ts";

export interface Probe {
  status: number;
  xCache: string | null;
  cacheStatus: string | null;
  originCount: number | null;
  body: string;
}

/** One GET with a 10 s timeout; a network failure is a BenchError naming the URL. */
export async function probe(url: string): Promise<Probe> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new BenchError(`${url} did not answer: ${(e as Error).message}`);
  }
  const body = await res.text();
  const count = res.headers.get("x-origin-count");
  return {
    status: res.status,
    xCache: res.headers.get("x-cache"),
    cacheStatus: res.headers.get("cache-status"),
    originCount: count === null ? null : Number(count),
    body,
  };
}

/** The origin's per-path request counter for `path` (reading it is one more request, included). */
export async function originCount(originUrl: string, path: string): Promise<number> {
  const p = await probe(originUrl + path);
  expect(p.status === 200 && p.originCount !== null, `origin ${path}: expected 200 with x-origin-count, got ${p.status}`);
  return p.originCount ?? 0;
}

/** Our worker answers /__edge/health with 200 (it started with a valid configuration). */
export async function expectHealthy(workerUrl: string): Promise<void> {
  const health = await probe(`${workerUrl}/__edge/health`);
  expect(health.status === 200, `worker /__edge/health: expected 200, got ${health.status}: ${health.body.slice(0, 200)}`);
}

/** Prime `path` and wait for the store (it happens in waitUntil, after the MISS response). */
export async function primeHit(workerUrl: string, path: string): Promise<void> {
  const first = await probe(workerUrl + path);
  expect(first.status === 200, `worker ${path}: expected 200, got ${first.status}`);
  expect(first.xCache === "MISS", `worker ${path}: first request expected X-Cache: MISS, got ${first.xCache} (${first.cacheStatus})`);
  const deadline = Date.now() + 5_000;
  for (;;) {
    const p = await probe(workerUrl + path);
    if (p.xCache === "HIT") return;
    if (Date.now() > deadline) {
      throw new BenchError(`worker ${path}: never became a HIT (last X-Cache: ${p.xCache}; Cache-Status: ${p.cacheStatus})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `path` is answered as a HIT right now. */
export async function expectHit(workerUrl: string, path: string, when: string): Promise<void> {
  const p = await probe(workerUrl + path);
  expect(p.xCache === "HIT", `worker ${path}: expected X-Cache: HIT ${when} the run, got ${p.xCache} (${p.cacheStatus})`);
}

/** A sample request with a fresh unique query is a real miss that went to the origin. */
export async function expectMissSample(workerUrl: string, path: string, tag: string): Promise<void> {
  const url = `${workerUrl}${path}?u=sample-${tag}-${process.pid}`;
  const p = await probe(url);
  expect(p.status === 200, `worker ${url}: expected 200, got ${p.status}`);
  expect(p.xCache === "MISS" && /fwd=(uri-)?miss/.test(p.cacheStatus ?? ""),
    `worker ${url}: expected X-Cache: MISS (fwd=uri-miss), got ${p.xCache} (${p.cacheStatus})`);
}

/** A baseline proxy passes the origin's answer through: 200, the origin's body and counter, no X-Cache. */
export async function expectProxied(workerUrl: string, path: string, tag: string): Promise<string> {
  const url = `${workerUrl}${path}?u=sample-${tag}-${process.pid}`;
  const p = await probe(url);
  expect(p.status === 200 && p.originCount !== null && p.body.startsWith(`${path}?u=sample-`) && p.xCache === null,
    `${url}: expected the origin's 200 (its body, X-Origin-Count, no X-Cache), got ${p.status}: ${p.body.slice(0, 100)}`);
  return url;
}

/** No request failed, at least one completed, and no body failed the run's check (when it had one). */
export function checkRun(m: Measured): void {
  expect(m.requests > 0, `${m.target} @${m.connections}: no request completed`);
  expect(m.errors === 0 && m.non2xx === 0,
    `${m.target} @${m.connections}: ${m.errors} errors (${m.timeouts} timeouts) and ${m.non2xx} non-2xx responses during the run`);
  expect(!m.mismatches, `${m.target} @${m.connections}: ${m.mismatches} of ${m.requests} responses during the run did not have the expected body`);
}

/** One purge of `tag` with `token` is answered 200 in Cloudflare's envelope, with `result.purged_at`. */
export async function expectPurgeAccepted(workerUrl: string, path: string, token: string, tag: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(workerUrl + path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ tags: [tag] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw new BenchError(`${workerUrl}${path} did not answer: ${(e as Error).message}`);
  }
  const body = await res.text();
  let parsed: { success?: boolean; result?: { purged_at?: string } } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch { /* reported below */ }
  expect(res.status === 200 && parsed.success === true && typeof parsed.result?.purged_at === "string",
    `purge API: expected 200 {"success":true,"result":{"purged_at":...}}, got ${res.status}: ${body.slice(0, 200)}`);
}
