/**
 * Faults: the worker keeps answering when the platform or the origin misbehaves, and never stores
 * anything broken. Platform bindings are replaced by small test doubles (a KV namespace that
 * throws or stalls, a Cache whose match/put throws); our own modules are never mocked.
 *
 * Bindings and the cache are read once per configuration (src/app.ts keeps one runtime per app,
 * src/index.ts one app per EDGE_CONFIG / ORIGIN_URL / CACHE_VERSION), so every test that swaps a
 * binding uses a fresh CACHE_VERSION: a new app that sees the double from its first request.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env.ts";
import worker from "../../src/index.ts";
import type { PurgeCoordinator } from "../../src/purge/coordinator.ts";
import { coordinator, flakyCoordinator, originLog, purgesPublished, script, send, SITE, testEnv, uniquePath, withConfig } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;

/** A configuration nobody else uses: a new app, runtime, tag index and origin client. */
function fresh(extra: Partial<Env> = {}): Partial<Env> {
  return { CACHE_VERSION: `f-${crypto.randomUUID()}`, ...extra };
}

/** Send without assuming the body can be read whole (the origin may break mid-body). */
async function sendLoose(path: string, init: RequestInit = {}, env: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${SITE}${path}`, init), { ...testEnv, ...env }, ctx);
  let body: string | null = null;
  let error: unknown = null;
  try {
    body = await res.text();
  } catch (e) {
    error = e;
  }
  await waitOnExecutionContext(ctx);
  return { res, status: res.status, body, error, header: (n: string) => res.headers.get(n) };
}

/** Faults logged through console.error (src/log.ts: one JSON line per fault). */
function captureFaults() {
  const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
  return () => spy.mock.calls.map((args) => {
    try {
      return JSON.parse(String(args[0])) as { event?: string; where?: string; message?: string };
    } catch {
      return { message: String(args[0]) };
    }
  });
}

/** A KV namespace double: each operation delegates to the given behaviour. */
function kvDouble(ops: { get?: (keys: unknown) => Promise<unknown>; put?: (key: string, value: string) => Promise<void> }): KVNamespace {
  return {
    get: (keys: unknown) => (ops.get ? ops.get(keys) : Promise.resolve(new Map())),
    put: (key: string, value: string) => (ops.put ? ops.put(key, value) : Promise.resolve()),
  } as unknown as KVNamespace;
}

async function purge(body: unknown, env: Partial<Env>) {
  const r = await send("/__edge/purge", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}` },
    body: JSON.stringify(body),
  }, env);
  return { ...r, json: JSON.parse(r.body) as { success: boolean; errors: { message: string }[]; result: unknown } };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("KV faults during the purge check of a HIT", () => {
  it.each([
    ["rejects", () => Promise.reject(new Error("KV is down"))],
    ["throws synchronously", () => { throw new Error("KV is down"); }],
  ] as const)("KV get that %s: the hit is still served and the fault logged", async (_n, get) => {
    const env = fresh({ TAGS: kvDouble({ get: get as () => Promise<unknown> }) });
    const p = uniquePath();
    const faults = captureFaults();
    const a = await send(p, {}, env);
    expect(a.header("cache-status")).toContain("stored");
    const b = await send(p, {}, env);
    expect(b.status).toBe(200);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.body).toBe(a.body);
    expect(await originLog(p)).toHaveLength(1);
    expect(faults().some((f) => f.where === "kv.get" && /KV is down/.test(f.message ?? ""))).toBe(true);
  });

  it("slow KV: the hit is served after tagCheckTimeoutMs, not after KV, and the delay is logged", async () => {
    const env = fresh({
      ...withConfig({ tagCheckTimeoutMs: 50 }),
      TAGS: kvDouble({ get: () => new Promise((r) => setTimeout(() => r(new Map()), 3000)) }),
    });
    const p = uniquePath();
    const faults = captureFaults();
    await send(p, {}, env);
    // Timed to the response: the journal's refresh may go on in the background (waitUntil).
    const ctx = createExecutionContext();
    const started = Date.now();
    const b = await worker.fetch(new Request(`${SITE}${p}`), { ...testEnv, ...env }, ctx);
    const took = Date.now() - started;
    expect(b.headers.get("x-cache")).toBe("HIT");
    await b.body?.cancel();
    expect(took).toBeLessThan(1500);
    expect(faults().some((f) => f.where === "kv.get" && /over 50 ms/.test(f.message ?? ""))).toBe(true);
    expect(await originLog(p)).toHaveLength(1);
  });

  it("no KV binding at all: hits are served, purges answer 503 and claim nothing", async () => {
    const env = fresh({ TAGS: undefined });
    const p = uniquePath();
    await send(p, {}, env);
    expect((await send(p, {}, env)).header("x-cache")).toBe("HIT");
    const r = await purge({ tags: ["anything"] }, env);
    expect(r.status).toBe(503);
    expect(r.json.success).toBe(false);
    expect(r.json.result).toBeNull();
  });
});

describe("Cache API faults", () => {
  /** A Cache double over the real one, with match and/or put throwing. */
  async function brokenCache(broken: { match?: boolean; put?: boolean }): Promise<Cache> {
    const real = await caches.open("edge-cache");
    return {
      match: (req: RequestInfo, opts?: CacheQueryOptions) => (broken.match ? Promise.reject(new Error("cache.match exploded")) : real.match(req, opts)),
      put: (req: RequestInfo, res: Response) => (broken.put ? Promise.reject(new Error("cache.put exploded")) : real.put(req, res)),
      delete: (req: RequestInfo, opts?: CacheQueryOptions) => real.delete(req, opts),
    } as unknown as Cache;
  }

  it("match throwing: the origin answers 200, X-Cache MISS, the fault is logged", async () => {
    // The in-isolate memory tier would answer the second request itself; this is about the Cache API.
    const version = fresh({ EDGE_CONFIG: JSON.stringify({ memoryCacheMs: 0 }) });
    const cache = await brokenCache({ match: true });
    const open = vi.spyOn(caches, "open").mockResolvedValue(cache);
    const faults = captureFaults();
    const p = uniquePath();
    for (let i = 0; i < 2; i++) {
      const r = await send(p, {}, version);
      expect(r.status).toBe(200);
      expect(r.header("x-cache")).toBe("MISS");
      expect(r.body).toContain(`${p} #${i + 1}`);
    }
    expect(open).toHaveBeenCalled();
    expect(faults().some((f) => f.where === "cache.match" && /exploded/.test(f.message ?? ""))).toBe(true);
  });

  it("put throwing: the origin's 200 is served, nothing is stored, the next request is a MISS too", async () => {
    const version = fresh();
    const cache = await brokenCache({ put: true });
    vi.spyOn(caches, "open").mockResolvedValue(cache);
    const faults = captureFaults();
    const p = uniquePath();
    const a = await send(p, {}, version);
    expect(a.status).toBe(200);
    expect(a.header("x-cache")).toBe("MISS");
    const b = await send(p, {}, version);
    expect(b.header("x-cache")).toBe("MISS");
    expect(faults().some((f) => f.where === "cache.put" && /exploded/.test(f.message ?? ""))).toBe(true);
    vi.restoreAllMocks();
    // Same key, a new runtime over the real cache: still nothing stored under it.
    const c = await send(p, {}, { ...version, ...withConfig({ negativeTtl: 60 }) });
    expect(c.header("x-cache")).toBe("MISS");
    expect(await originLog(p)).toHaveLength(3);
  });

  it("caches.open rejecting: the origin's answer is served (detail=cache-unavailable)", async () => {
    const version = fresh();
    vi.spyOn(caches, "open").mockRejectedValue(new Error("no cache for you"));
    const p = uniquePath();
    const r = await send(p, {}, version);
    expect(r.status).toBe(200);
    expect(r.header("x-cache")).toBe("MISS");
    expect(r.header("cache-status")).toContain("detail=cache-unavailable");
  });

  // openCache() memoises caches.open()'s promise per runtime (src/app.ts) but forgets a rejected one.
  it("a runtime recovers once caches.open works again", async () => {
    const version = fresh();
    const p = uniquePath();
    const spy = vi.spyOn(caches, "open").mockRejectedValueOnce(new Error("transient"));
    expect((await send(p, {}, version)).header("cache-status")).toContain("detail=cache-unavailable");
    spy.mockRestore();
    expect((await send(p, {}, version)).header("cache-status")).toContain("stored");
    expect((await send(p, {}, version)).header("x-cache")).toBe("HIT");
  });
});

describe("origin faults", () => {
  const cacheable = { "cache-control": "public, max-age=600" };

  it("a reset mid-body reaches the client as a broken body and is never stored", async () => {
    const p = uniquePath();
    const whole = "x".repeat(20_000);
    await script(p, { reset: "mid-body", headers: cacheable, body: whole }, { headers: cacheable, body: "whole" });
    const a = await sendLoose(p);
    expect(a.status).toBe(200);
    // The client must not mistake half a page for the page: its read fails or comes up short.
    expect(a.error !== null || (a.body ?? "").length < whole.length).toBe(true);
    const b = await sendLoose(p);
    expect(b.header("x-cache")).toBe("MISS");
    expect(b.body).toBe("whole");
    const c = await sendLoose(p);
    expect(c.header("x-cache")).toBe("HIT");
    expect(c.body).toBe("whole");
  });

  it("a HEAD miss whose fill breaks mid-body stores nothing", async () => {
    const p = uniquePath();
    await script(p, { reset: "mid-body", headers: cacheable, body: "y".repeat(20_000) }, { headers: cacheable, body: "whole" });
    const head = await sendLoose(p, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    const get = await sendLoose(p);
    expect(get.header("x-cache")).toBe("MISS");
    expect(get.body).toBe("whole");
  });

  it("a reset before the headers: 502, no-store, nothing stored", async () => {
    const p = uniquePath();
    // Its own app: the failure puts the origin in its cool-down, in which stale copies answer without asking it.
    const env = withConfig({ cacheName: "faults-reset" });
    await script(p, { reset: "headers" }, { headers: cacheable, body: "back" });
    const a = await send(p, {}, env);
    expect(a.status).toBe(502);
    expect(a.header("cache-control")).toBe("no-store");
    expect(a.header("cache-status")).toContain("detail=origin-unreachable");
    const b = await send(p, {}, env);
    expect(b.status).toBe(200);
    expect(b.header("x-cache")).toBe("MISS");
    expect(b.body).toBe("back");
    expect((await send(p, {}, env)).header("x-cache")).toBe("HIT");
  });

  it("an origin slower than originTimeoutMs: a prompt 504, and its late answer is never stored", async () => {
    const p = uniquePath();
    const env = withConfig({ originTimeoutMs: 200 });
    await script(p, { delayMs: 1000, headers: cacheable, body: "late" }, { headers: cacheable, body: "fast" });
    const started = Date.now();
    const a = await send(p, {}, env);
    expect(Date.now() - started).toBeLessThan(900);
    expect(a.status).toBe(504);
    expect(a.header("cache-control")).toBe("no-store");
    expect(a.header("cache-status")).toContain("detail=origin-timeout");
    const b = await send(p, {}, env);
    expect(b.body).toBe("fast");
    expect(b.header("x-cache")).toBe("MISS");
    await new Promise((r) => setTimeout(r, 1000)); // the late answer has arrived (and been dropped) by now
    const c = await send(p, {}, env);
    expect(c.header("x-cache")).toBe("HIT");
    expect(c.body).toBe("fast");
  });

  // Never stored: the response is personal, forbids storing, or cannot be matched.
  const neverStored: [string, Record<string, string | string[]>][] = [
    ["public, max-age=600, no-store", { "cache-control": "public, max-age=600, no-store" }],
    ["max-age=600, private", { "cache-control": "max-age=600, private" }],
    ['private="set-cookie"', { "cache-control": 'public, max-age=600, private="set-cookie"' }],
    ["two Cache-Control lines, the second no-store", { "cache-control": ["public, max-age=600", "no-store"] }],
    ["NO-STORE in capitals", { "cache-control": "PUBLIC, MAX-AGE=600, NO-STORE" }],
    ["Vary: *", { "cache-control": "max-age=600", vary: "*" }],
    ["Set-Cookie with max-age", { "cache-control": "public, max-age=600", "set-cookie": "a=b" }],
  ];
  it.each(neverStored)("%s: answered, never stored", async (_n, headers) => {
    const p = uniquePath();
    await script(p, { headers, body: "odd" });
    const a = await send(p);
    expect(a.status).toBe(200);
    expect(a.body).toBe("odd");
    expect(a.header("cache-status")).not.toContain("stored");
    const b = await send(p);
    expect(b.header("x-cache")).toBe("MISS");
    expect(await originLog(p)).toHaveLength(2);
  });

  // Invalid or conflicting lifetimes: stale on arrival. The entry may be kept as a stale-if-error
  // fallback (staleIfError), but it is never fresh.
  const staleOnArrival: [string, Record<string, string | string[]>][] = [
    ["max-age=abc", { "cache-control": "max-age=abc" }],
    ["max-age=-1", { "cache-control": "public, max-age=-1" }],
    ["max-age=1e9", { "cache-control": "public, max-age=1e9" }],
    ["max-age without a value", { "cache-control": "public, max-age" }],
    ["Expires: 0", { expires: "0" }],
    ["Expires: garbage", { expires: "tomorrow-ish" }],
    ["Expires in the past", { expires: "Thu, 01 Jan 1970 00:00:00 GMT" }],
    ["max-age=0 then max-age=600 (first wins)", { "cache-control": "max-age=0, max-age=600" }],
    ["s-maxage=0 beside max-age=600", { "cache-control": "s-maxage=0, max-age=600" }],
    ["s-maxage=abc beside max-age=600", { "cache-control": "s-maxage=abc, max-age=600" }],
    ["an Age older than max-age", { "cache-control": "max-age=600", age: "99999" }],
  ];
  it.each(staleOnArrival)("%s: answered, never given a freshness lifetime", async (_n, headers) => {
    const p = uniquePath();
    await script(p, { headers, body: "odd" });
    const a = await send(p);
    expect(a.status).toBe(200);
    expect(a.body).toBe("odd");
    expect(a.header("cache-status")).not.toMatch(/ttl=[1-9]/);
  });

  // The entry is served as a "stale-while-revalidate" HIT within the second it was stored, although
  // stale-while-revalidate is 0: pipeline.ts tests `-left <= swr` (0 <= 0). See the report.
  it.each(staleOnArrival)("%s: the next request is not answered from the stale entry", async (_n, headers) => {
    const p = uniquePath();
    await script(p, { headers, body: "odd" });
    await send(p);
    const b = await send(p);
    expect(b.header("x-cache")).toBe("MISS");
    expect(await originLog(p)).toHaveLength(2);
  });

  // Odd but meaningful: stored, and the stored copy is the whole, same response.
  const stored: [string, Record<string, string | string[]>, number][] = [
    ["max-age=600 then max-age=0 (first wins)", { "cache-control": "max-age=600, max-age=0" }, 600],
    ["directive names in capitals", { "cache-control": "PUBLIC, MAX-AGE=600" }, 600],
    ["a huge delta-seconds (capped at 2^31)", { "cache-control": `max-age=${"9".repeat(400)}` }, 2147483648],
    ["an unknown directive with a broken quoted value", { "cache-control": 'max-age=600, foo="bar' }, 600],
    ["an invalid Age is ignored", { "cache-control": "max-age=600", age: "soon" }, 600],
  ];
  it.each(stored)("%s: stored whole", async (_n, headers, ttl) => {
    const p = uniquePath();
    await script(p, { headers, body: "kept whole" });
    const a = await send(p);
    expect(a.header("cache-status")).toContain(`stored; ttl=${ttl}`);
    const b = await send(p);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.body).toBe("kept whole");
  });

  it("huge response header values: answered, and a stored copy is complete", async () => {
    const p = uniquePath();
    const big = "v".repeat(60_000);
    await script(p, { headers: { ...cacheable, "x-big": big }, body: "big headers" });
    const a = await send(p);
    expect(a.status).toBe(200);
    const b = await send(p);
    expect(b.status).toBe(200);
    expect(b.body).toBe("big headers");
    if (b.header("x-cache") === "HIT") expect(b.header("x-big")).toBe(big);
  });

  it("a huge tag header: stored with the tags that fit, never failing the request", async () => {
    const p = uniquePath();
    const tags = Array.from({ length: 5000 }, (_, i) => `tag_${i}_${"x".repeat(8)}`).join(",");
    await script(p, { headers: { ...cacheable, "cache-tag": tags }, body: "tagged" });
    const faults = captureFaults();
    const a = await send(p);
    expect(a.header("cache-status")).toContain("stored");
    expect(a.header("cache-tag")).toBeNull();
    const b = await send(p);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.body).toBe("tagged");
    expect(faults()).toEqual([]);
  });
});

describe("purge while KV fails", () => {
  it("the coordinator unreachable: 503 with a clear message, success false, no result claimed", async () => {
    const env = fresh(flakyCoordinator(1));
    const r = await purge({ tags: ["post_1"] }, env);
    expect(r.status).toBe(503);
    expect(r.json.success).toBe(false);
    expect(r.json.result).toBeNull();
    expect(r.json.errors[0]?.message).toMatch(/could not be recorded/);
    expect(r.json.errors[0]?.message).toMatch(/retry/);
    expect(r.header("cache-control")).toBe("no-store");
    expect(r.body).not.toContain(TOKEN);
  });

  it("KV refusing a write (429): the purge is recorded at once, and published on a later alarm", async () => {
    let calls = 0;
    await runInDurableObject(coordinator(), (instance: PurgeCoordinator) => {
      const self = instance as unknown as { env: Env };
      const kv = self.env.TAGS!;
      const refusing = { put: (...a: Parameters<KVNamespace["put"]>) => (++calls === 1 ? Promise.reject(new Error("429 Too Many Requests")) : kv.put(...a)) };
      self.env = { ...self.env, TAGS: Object.assign(Object.create(kv) as KVNamespace, refusing) };
    });
    const r = await purge({ tags: ["post_2"] }, fresh());
    expect(r.status).toBe(200); // the caller never waits on KV
    expect(r.json.success).toBe(true);
    await purgesPublished(10_000); // the coordinator's own retry did it
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});
