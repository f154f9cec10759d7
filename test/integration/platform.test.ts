/**
 * Correct on Cloudflare, not just in miniflare: the platform traps (compressed origins, large
 * bodies, loops, a Cache API that keeps nothing, the zone cache, background budgets) and the finer
 * points of RFC 9111 / 9110 / 9213, against a test origin that compresses, sends any header and
 * answers 304 unprompted. Table-driven where the rule is a table; the section is in each name.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { refreshInBackground, REFRESH_MARK_MS } from "../../src/phases/refresh.ts";
import { recv } from "../../src/phases/recv.ts";
import { buildRuntime } from "../../src/wiring.ts";
import { cloudflareZonePurger } from "../../src/zone-purge.ts";
import { clockedWorker, originLog, script, send, SITE, testEnv, uniquePath, withConfig } from "../helpers.ts";

const fresh = (over: Partial<Env> = {}): Partial<Env> => ({ CACHE_VERSION: `p-${crypto.randomUUID()}`, ...over });
/** Memory tier off: the second request is answered by the Cache API itself. */
const cacheApiOnly = () => fresh(withConfig({ memoryCacheMs: 0 }));
const TEXT = "The quick brown fox jumps over the lazy dog. ".repeat(40);

describe("compressed origins: one identity representation, stored and served", () => {
  it.each(["gzip", "br"] as const)("%s: MISS, memory HIT and Cache API HIT give the same identity bytes with a weak ETag", async (coding) => {
    const p = uniquePath();
    await script(p, { compress: coding, headers: { "cache-control": "max-age=60", etag: '"v1"' }, body: TEXT });
    for (const env of [fresh(), cacheApiOnly()]) {
      const miss = await send(p, {}, env);
      const hit = await send(p, {}, env);
      for (const r of [miss, hit]) {
        expect(r.body).toBe(TEXT);
        expect(r.header("content-encoding")).toBeNull();
        // RFC 9110 §8.8.3: the origin's strong ETag named the coded bytes.
        expect(r.header("etag")).toBe('W/"v1"');
      }
      expect(hit.header("x-cache")).toBe("HIT");
      expect(hit.header("content-length")).toBe(String(new TextEncoder().encode(TEXT).byteLength));
    }
  });

  it.each(["gzip", "br"] as const)("%s: conditional, Range and HEAD are answered from the identity copy", async (coding) => {
    const p = uniquePath();
    await script(p, { compress: coding, headers: { "cache-control": "max-age=60", etag: 'W/"w1"' }, body: TEXT });
    const env = cacheApiOnly();
    await send(p, {}, env);
    expect((await send(p, { headers: { "if-none-match": 'W/"w1"' } }, env)).status).toBe(304);
    const part = await send(p, { headers: { range: "bytes=4-8" } }, env);
    expect(part.status).toBe(206);
    expect(part.body).toBe(TEXT.slice(4, 9));
    const head = await send(p, { method: "HEAD" }, env);
    expect(head.body).toBe("");
    expect(head.header("content-length")).toBe(String(TEXT.length));
  });

  it("a 304 naming the strong ETag keeps the stored copy's weak one", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p, { compress: "gzip", headers: { "cache-control": "max-age=10", etag: '"s1"' }, body: TEXT }, { status: 304, headers: { etag: '"s1"', "cache-control": "max-age=10" }, body: "" });
    await w.send(p);
    w.advance(20);
    const again = await w.send(p);
    expect(again.header("cache-status")).toContain("fwd-status=304");
    expect(again.header("etag")).toBe('W/"s1"');
    expect(again.body).toBe(TEXT);
    // The revalidation asked with the stored (weak) validator; If-None-Match compares weakly (RFC 9110 §13.1.2).
    expect((await originLog(p))[1]?.headers["if-none-match"]).toBe('W/"s1"');
  });
});

describe("large bodies stream to the store, length verified", () => {
  const big = "z".repeat(3 * 1024 * 1024);

  it("a 3 MiB body is stored without being held whole, and served from the Cache API with its length", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", "content-length": String(big.length) }, body: big });
    const env = fresh();
    const miss = await send(p, {}, env);
    expect(miss.body).toHaveLength(big.length);
    const hit = await send(p, {}, env);
    expect(hit.header("x-cache")).toBe("HIT");
    expect(hit.header("cache-status")).toContain("ec-tier=cache-api");
    expect(hit.header("content-length")).toBe(String(big.length));
    expect(hit.body).toBe(big);
  });

  it("a 3 MiB compressed body (length unknown once decoded) is stored whole, or not at all", async () => {
    const p = uniquePath();
    await script(p, { compress: "gzip", headers: { "cache-control": "max-age=60" }, body: big });
    const env = fresh();
    await send(p, {}, env);
    const hit = await send(p, {}, env);
    expect(hit.header("x-cache")).toBe("HIT");
    expect(hit.body.length).toBe(big.length);
  });

  it("a large body that breaks mid-way is never stored, not even in part", async () => {
    const p = uniquePath();
    await script(p, { reset: "mid-body", headers: { "cache-control": "max-age=60" }, body: big }, { headers: { "cache-control": "max-age=60" }, body: "whole" });
    const env = fresh();
    await send(p, {}, env).catch(() => undefined);
    const next = await send(p, {}, env);
    expect(next.header("x-cache")).toBe("MISS");
    expect(next.body).toBe("whole");
  });
});

describe("RFC 9110 §5.6.7 / RFC 9111 §5.3: only real HTTP dates; anything else has already expired", () => {
  const DATE = "Sun, 22 Nov 2026 10:00:00 GMT";
  it.each([
    ["IMF-fixdate", "Sun, 22 Nov 2026 10:01:40 GMT", "HIT"],
    ["RFC 850", "Sunday, 22-Nov-26 10:01:40 GMT", "HIT"],
    ["asctime", "Sun Nov 22 10:01:40 2026", "HIT"],
    ["UTC instead of GMT", "Sun, 22 Nov 2026 10:01:40 UTC", "MISS"],
    ["a missing comma", "Sun 22 Nov 2026 10:01:40 GMT", "MISS"],
    ["double spaces", "Sun,  22 Nov 2026 10:01:40 GMT", "MISS"],
    ["dashes in IMF-fixdate", "Sun, 22-Nov-2026 10:01:40 GMT", "MISS"],
    ["a one-digit hour", "Sun, 22 Nov 2026 1:01:40 GMT", "MISS"],
    ["the value 0", "0", "MISS"],
  ])("Expires as %s (%s) -> second request %s", async (_name, expires, expected) => {
    const w = clockedWorker({}, Date.parse("2026-11-22T10:00:00Z"));
    const p = uniquePath();
    await script(p, { headers: { date: DATE, expires } });
    await w.send(p);
    expect((await w.send(p)).header("x-cache")).toBe(expected);
  });
});

describe("RFC 9111 §5.1 Age, RFC 9110 §7.6.1 Connection, Content-Length", () => {
  it("an Age list uses its first member: Age 7200 on a one-hour lifetime is stale on arrival", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=3600" }, rawHeaders: [["age", "7200"], ["age", "0"]] });
    const env = fresh();
    await send(p, {}, env);
    expect((await send(p, {}, env)).header("x-cache")).toBe("MISS");
  });

  it("fields named in Connection are neither stored nor passed on", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", connection: "x-hop-secret", "x-hop-secret": "1", "x-kept": "1" } });
    const env = cacheApiOnly();
    for (const r of [await send(p, {}, env), await send(p, {}, env)]) {
      expect(r.header("x-hop-secret")).toBeNull();
      expect(r.header("x-kept")).toBe("1");
    }
  });

  it("a hit carries its stored Content-Length, also after a 304 that said 0", async () => {
    const w = clockedWorker({ memoryCacheMs: 0 });
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=10", etag: '"c"' }, body: "0123456789" }, { status: 304, headers: { etag: '"c"', "cache-control": "max-age=10", "content-length": "0" }, body: "" });
    await w.send(p);
    expect((await w.send(p)).header("content-length")).toBe("10");
    w.advance(20);
    const refreshed = await w.send(p);
    expect(refreshed.header("cache-status")).toContain("fwd-status=304");
    expect(refreshed.header("content-length")).toBe("10");
    expect(refreshed.body).toBe("0123456789");
  });
});

describe("RFC 9213 §2.1: targeted fields are structured-field dictionaries; an invalid one is ignored whole", () => {
  it.each([
    ["max-age=60", 60],
    ["max-age=60, must-revalidate", 60],
    ["max-age=60;;", 5],
    ["max-age=(60 70)", 5],
    // RFC 8941 §4.2.2: a repeated key keeps the last value, here `true`: a max-age without seconds is stale.
    ["max-age=60, max-age", 0],
    ["\"quoted\"", 5],
  ])("CDN-Cache-Control: %s -> ttl %i", async (field, ttl) => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=5", "cdn-cache-control": field } });
    const r = await send(p, {}, fresh());
    expect(r.header("cache-status")).toContain(`ttl=${ttl}`);
  });
});

describe("responses the cache must not trip over", () => {
  it("a 304 to a request without validators is a clean 502, never a 500", async () => {
    const p = uniquePath();
    await script(p, { status: 304, headers: { etag: '"x"' }, body: "" });
    const r = await send(p, {}, fresh());
    expect(r.status).toBe(502);
    expect(r.header("cache-status")).toContain("detail=origin-304-unprompted");
    expect(r.header("cache-control")).toBe("no-store");
  });

  it("a 204 with explicit freshness is stored and answered as a 204 by the Cache API", async () => {
    const p = uniquePath();
    await script(p, { status: 204, headers: { "cache-control": "max-age=60" }, body: "" });
    const env = cacheApiOnly();
    expect((await send(p, {}, env)).status).toBe(204);
    const hit = await send(p, {}, env);
    expect(hit.status).toBe(204);
    expect(hit.header("x-cache")).toBe("HIT");
  });

  it("a 103 Early Hints before the answer is never stored; the final response is", async () => {
    const p = uniquePath();
    await script(p, { earlyHints: true, headers: { "cache-control": "max-age=60" }, body: "final" });
    const env = fresh();
    expect((await send(p, {}, env)).status).toBe(200);
    const hit = await send(p, {}, env);
    expect([hit.status, hit.body, hit.header("x-cache")]).toEqual([200, "final", "HIT"]);
  });
});

describe("platform traps that miniflare cannot show: the decisions", () => {
  it("origin requests bypass the zone cache (cache: no-store: the runtime adds no-cache) and carry the loop marker", async () => {
    const p = uniquePath();
    await send(p, {}, fresh());
    const [seen] = await originLog(p);
    expect(seen?.headers["cache-control"]).toBe("no-cache");
    expect(seen?.headers.pragma).toBe("no-cache");
    expect(seen?.headers["x-edge-cache-hop"]).toBe("1");
  });

  it("one of our own origin requests coming back (no ORIGIN_URL on a Custom Domain) is refused with 508, never forwarded", async () => {
    const p = uniquePath();
    const r = await send(p, { headers: { "x-edge-cache-hop": "1" } }, fresh());
    expect(r.status).toBe(508);
    expect(r.body).toMatch(/ORIGIN_URL/);
    expect(await originLog(p)).toHaveLength(0);
  });

  it("a Cache API that keeps nothing is reported by health (and explain)", async () => {
    const env = fresh();
    expect((JSON.parse((await send("/__edge/health", {}, env)).body) as { cacheApi: string }).cacheApi).toBe("ok");
    const inert = { match: async () => undefined, put: async () => undefined, delete: async () => false } as unknown as Cache;
    vi.spyOn(caches, "open").mockResolvedValue(inert);
    try {
      const other = fresh();
      expect((JSON.parse((await send("/__edge/health", {}, other)).body) as { cacheApi: string }).cacheApi).toBe("no-op");
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("a background refresh mark expires, so a refresh cut off by the platform does not block the key for good", async () => {
    const config = parseConfig({ ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: crypto.randomUUID() });
    let now = Date.parse("2026-11-22T10:00:00Z");
    const { rt } = buildRuntime(config, testEnv, () => now);
    const v = recv(new Request(`${SITE}${uniquePath()}`), config);
    if (v.kind !== "lookup") throw new Error(v.kind);
    const found = { entry: { kind: "entry" as const, status: 200, headers: new Headers(), body: new Uint8Array(), size: 0, meta: { storedAt: now, fillStartedAt: now, ttl: 0, initialAge: 0, rule: "-", tags: [], url: "", cacheControl: null, swr: 60, sie: 0, strict: false, keepUntil: now + 60_000 } }, storeKey: v.facts.key.key, tier: "memory" as const };
    rt.refreshing.set(found.storeKey, now + REFRESH_MARK_MS); // a refresh that never ran its cleanup
    const started: Promise<unknown>[] = [];
    refreshInBackground(v.facts, found, rt, { waitUntil: (p) => started.push(p) });
    expect(started).toHaveLength(0); // still marked
    now += REFRESH_MARK_MS + 1;
    refreshInBackground(v.facts, found, rt, { waitUntil: (p) => started.push(p) });
    expect(started).toHaveLength(1);
    await Promise.all(started);
  });

  it("zone purge retries end within the background budget and say they gave up", async () => {
    const api = `${testEnv.ORIGIN_URL}/__cfapi/${crypto.randomUUID()}`;
    await script(`${new URL(api).pathname}/zones/z1/purge_cache`, { status: 429, headers: { "retry-after": "2" }, body: "slow down" });
    const purger = cloudflareZonePurger({ apiBase: api, zoneId: "z1", token: "t", deadlineMs: 500 });
    const started = Date.now();
    const r = await purger.purge({ tags: ["a"] });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatch(/gave up within the background budget/);
  });
});

describe("tags are read from the worker's own metadata, not Cache-Tag (which Cloudflare strips)", () => {
  it("an entry whose Cache-Tag the platform removed is still purged by tag", async () => {
    const { decode, encode } = await import("../../src/store/cache-api.ts");
    const { sampleEntry } = await import("../../src/store/tier.contract.ts");
    const stored = encode(sampleEntry(new Uint8Array([1])), Date.now());
    const headers = new Headers(stored.headers);
    headers.delete("cache-tag"); // what production hands back
    const back = decode(new Response(stored.body, { headers }));
    expect(back?.meta.tags).toEqual(["*", "h:e.com", "post_1"]);
    const ctx = createExecutionContext();
    await waitOnExecutionContext(ctx);
  });
});
