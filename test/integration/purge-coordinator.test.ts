/**
 * Purging at any rate, honoured everywhere, at a bounded cost: the coordinator (a Durable Object)
 * and the journal it publishes to KV, driven through the worker; Cloudflare's own API client
 * pointed at the worker; soft purges; authentication that cannot lock the app out; the KV reads a
 * hit costs; and a simulation of several locations (separate Cache API stores and isolate state,
 * sharing KV and the coordinator).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import Cloudflare from "cloudflare";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import worker from "../../src/index.ts";
import { clockedWorker, coordinator, originLog, purgesPublished, script, send, SITE, testEnv, uniquePath, withConfig } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;
const uid = () => crypto.randomUUID().slice(0, 8);
const purge = (body: unknown, env: Partial<Env> = {}, headers: Record<string, string> = {}) =>
  send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) }, env);

/** A fetch that goes to the worker (for clients that take a fetch function). */
function workerFetch(env: Partial<Env> = {}): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(input, init), { ...testEnv, ...env }, ctx);
    const body = await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return new Response(body, res);
  }) as typeof fetch;
}

describe("Cloudflare's own API client works against the worker by changing its base URL and token", () => {
  it("client.cache.purge({zone_id, tags}) purges; the envelope is Cloudflare's", async () => {
    const p = uniquePath();
    const tag = `cfsdk_${uid()}`;
    await script(p, { headers: { "cache-tag": tag } });
    await send(p);
    expect((await send(p)).header("x-cache")).toBe("HIT");
    const cf = new Cloudflare({ apiToken: TOKEN, baseURL: `${SITE}/__edge/client/v4`, fetch: workerFetch(), maxRetries: 0 });
    const result = await cf.cache.purge({ zone_id: "023e105f4ecef8ad9ca31a8372d0c353", tags: [tag] });
    expect(result?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });

  it("purge by files, hosts, prefixes and everything, and errors as Cloudflare reports them", async () => {
    const cf = new Cloudflare({ apiToken: TOKEN, baseURL: `${SITE}/__edge/client/v4`, fetch: workerFetch(), maxRetries: 0 });
    const zone_id = "023e105f4ecef8ad9ca31a8372d0c353";
    const p = uniquePath();
    await send(p);
    await cf.cache.purge({ zone_id, files: [`${SITE}${p}`] });
    expect((await send(p)).header("x-cache")).toBe("MISS");
    await cf.cache.purge({ zone_id, hosts: [`h${uid()}.example.org`] });
    await cf.cache.purge({ zone_id, prefixes: [`www.example.com/${uid()}/`] });
    const wrong = new Cloudflare({ apiToken: "wrong-token-0123456789", baseURL: `${SITE}/__edge/client/v4`, fetch: workerFetch(), maxRetries: 0 });
    await expect(wrong.cache.purge({ zone_id, tags: ["x"] })).rejects.toMatchObject({ status: 401 });
    await expect(cf.cache.purge({ zone_id, tags: ["has space"] })).rejects.toMatchObject({ status: 400 });
  });

  it("a configured zone id must match; any zone id is accepted otherwise", async () => {
    const env = withConfig({ zoneId: "0123456789abcdef0123456789abcdef" });
    const at = (zone: string) => send(`/__edge/client/v4/zones/${zone}/purge_cache`, {
      method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: ["a"] }),
    }, env);
    expect((await at("0123456789abcdef0123456789abcdef")).status).toBe(200);
    expect((await at("ffffffffffffffffffffffffffffffff")).status).toBe(404);
  });
});

describe("soft purge", () => {
  it("makes entries stale: revalidated with the origin on next use (a 304 keeps the body)", async () => {
    const p = uniquePath();
    const tag = `soft_${uid()}`;
    await script(p,
      { headers: { "cache-control": "max-age=600", etag: '"v1"', "cache-tag": tag }, body: "v1" },
      { status: 304, headers: { etag: '"v1"', "cache-control": "max-age=600" }, body: "" });
    await send(p);
    const r = await purge({ tags: [tag], soft: true });
    expect(r.body).toContain('"soft":true');
    const next = await send(p);
    expect(next.body).toBe("v1");
    expect(next.header("cache-status")).toContain("fwd-status=304");
    expect(next.header("cache-status")).toContain("fwd=stale");
    expect((await originLog(p))[1]?.headers["if-none-match"]).toBe('"v1"');
    expect((await send(p)).header("x-cache")).toBe("HIT");
  });

  it("a soft-purged entry may still be served when the origin fails; a hard-purged one may not", async () => {
    const hard = uniquePath();
    const soft = uniquePath();
    const tags = { hard: `h_${uid()}`, soft: `s_${uid()}` };
    await script(hard, { headers: { "cache-control": "max-age=600", "cache-tag": tags.hard }, body: "hard" }, { status: 503 });
    await script(soft, { headers: { "cache-control": "max-age=600", "cache-tag": tags.soft }, body: "soft" }, { status: 503 });
    await send(hard);
    await send(soft);
    await purge({ tags: [tags.hard] });
    await purge({ tags: [tags.soft], soft: true });
    expect((await send(hard)).status).toBe(503);
    const s = await send(soft);
    expect([s.status, s.body, s.header("cache-status")]).toEqual([200, "soft", expect.stringContaining("detail=stale-if-error")]);
  });
});

describe("authentication cannot lock the app out", () => {
  it("the right token works after any number of failures from the same address; failures alone are throttled", async () => {
    const env = { CACHE_VERSION: crypto.randomUUID() };
    const ip = { "cf-connecting-ip": "198.51.100.7" };
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await purge({ tags: ["a"] }, env, { ...ip, authorization: "Bearer wrong-wrong-wrong-wrong" })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(5).fill(429));
    const ok = await purge({ tags: ["a"] }, env, ip);
    expect(ok.status).toBe(200);
  });
});

describe("any rate: purges are recorded at once and published within KV's limits", () => {
  it("1,000 purges in a loop, of one tag and of many: each recorded, the journal holds every tag", async () => {
    const env = { CACHE_VERSION: crypto.randomUUID() };
    const one = `same_${uid()}`;
    const many = Array.from({ length: 500 }, (_, i) => `many_${uid()}_${i}`);
    const bodies = [...Array.from({ length: 500 }, () => ({ tags: [one] })), ...many.map((t) => ({ tags: [t] }))];
    for (let i = 0; i < bodies.length; i += 50) {
      const rs = await Promise.all(bodies.slice(i, i + 50).map((b) => purge(b, env)));
      expect(rs.map((r) => r.status)).toEqual(Array(rs.length).fill(200));
    }
    await purgesPublished(60_000);
    const journal = JSON.parse((await testEnv.TAGS!.get("j:v1"))!) as { tags: Record<string, [number, number]> };
    for (const t of [one, ...many]) expect(journal.tags[t]?.[0]).toBeGreaterThan(0);
    // Merged: one per-tag key for the tag purged 500 times.
    expect(await testEnv.TAGS!.get(`t:${one}`)).toMatch(/^\d+;0$/);
  }, 120_000);
});

/** A KV binding that counts the operations it is asked for. */
function countingKv(kv: KVNamespace) {
  const counts = { get: 0, keys: 0, put: 0 };
  const binding = {
    get: (key: string | string[], opts?: unknown) => {
      counts.get++;
      counts.keys += Array.isArray(key) ? key.length : 1;
      return (kv.get as (k: unknown, o?: unknown) => Promise<unknown>)(key, opts);
    },
    put: (...a: Parameters<KVNamespace["put"]>) => {
      counts.put++;
      return kv.put(...a);
    },
  };
  return { counts, binding: binding as unknown as KVNamespace };
}

describe("the KV cost of purge checks does not grow with the pages served", () => {
  it("200 hits on 20 pages within one journal interval cost one KV read", async () => {
    const kv = countingKv(testEnv.TAGS!);
    const env = { CACHE_VERSION: crypto.randomUUID(), TAGS: kv.binding, ...withConfig({ tagCheckMemoMs: 60_000 }) };
    const paths = Array.from({ length: 20 }, () => uniquePath());
    for (const p of paths) await send(p, {}, env);
    for (let i = 0; i < 10; i++) for (const p of paths) expect((await send(p, {}, env)).header("x-cache")).toBe("HIT");
    // The journal, read once by the first hit, covers every hit of the interval; a miss reads nothing.
    expect(kv.counts).toEqual({ get: 1, keys: 1, put: 0 });
  });

  it("an entry older than the journal's window costs one bulk read of its tags, once", async () => {
    const kv = countingKv(testEnv.TAGS!);
    await purge({ tags: [`warm_${uid()}`] });
    await purgesPublished(); // a journal exists, with a window that starts after the entry below
    const w = clockedWorker({ tagCheckMemoMs: 60_000 }, Date.now() - 3_600_000);
    const p = uniquePath();
    await w.send(p, {}, { TAGS: kv.binding });
    w.advance(3500); // back to about now: the entry was filled an hour ago
    const before = { ...kv.counts };
    for (let i = 0; i < 5; i++) await w.send(p, {}, { TAGS: kv.binding });
    expect(kv.counts.get - before.get).toBeLessThanOrEqual(2); // the journal (if due) and one bulk read of the tags
    expect(kv.counts.keys - before.keys).toBeLessThanOrEqual(1 + 12);
  });
});

describe("several locations: separate Cache API stores and isolates, one KV and one coordinator", () => {
  /** A location: its own app (isolate state, memory tier) and its own Cache API store. */
  function location(name: string, version: string, pollMs = 200) {
    const app = createApp(parseConfig({ ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: version, EDGE_CONFIG: { cacheName: `loc-${name}`, tagCheckMemoMs: pollMs } }));
    return {
      async send(path: string, init: RequestInit = {}) {
        const ctx = createExecutionContext();
        const res = await app.fetch(new Request(`${SITE}${path}`, init), testEnv, ctx);
        const body = await res.text();
        await waitOnExecutionContext(ctx);
        return { body, xCache: res.headers.get("x-cache"), status: res.status };
      },
    };
  }

  it("a purge in A is honoured at once in A and in B within the bound (publish + poll interval)", async () => {
    const version = crypto.randomUUID();
    const [a, b] = [location("a", version), location("b", version)];
    const p = uniquePath();
    const tag = `loc_${uid()}`;
    await script(p, { headers: { "cache-control": "max-age=600", "cache-tag": tag } });
    for (const loc of [a, b]) {
      await loc.send(p);
      expect((await loc.send(p)).xCache).toBe("HIT");
    }
    const started = Date.now();
    const r = await a.send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    expect(r.status).toBe(200);
    expect((await a.send(p)).xCache).toBe("MISS"); // at once where it was purged
    let honoured = 0;
    while (Date.now() - started < 5000) {
      if ((await b.send(p)).xCache === "MISS") {
        honoured = Date.now() - started;
        break;
      }
      await new Promise((res) => setTimeout(res, 25));
    }
    expect(honoured).toBeGreaterThan(0);
    // Locally KV is instant: the bound is the coordinator's publication (≤ 1 s after the previous
    // one) plus B's poll interval and the request that refreshes it (generous margin for a busy machine).
    expect(honoured).toBeLessThan(2500);
  });

  it("a fill in B that races a purge in A is purged", async () => {
    const version = crypto.randomUUID();
    const [a, b] = [location("a", version), location("b", version)];
    const p = uniquePath();
    const tag = `race_${uid()}`;
    await script(p, { delayMs: 400, headers: { "cache-control": "max-age=600", "cache-tag": tag }, body: "rendered before the purge" },
      { headers: { "cache-control": "max-age=600", "cache-tag": tag }, body: "after" });
    const slow = b.send(p); // B's fill begins
    await new Promise((res) => setTimeout(res, 100));
    await a.send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    expect((await slow).body).toBe("rendered before the purge"); // that client got what it asked for...
    await purgesPublished();
    await new Promise((res) => setTimeout(res, 250)); // past B's poll interval
    await b.send(p); // refreshes B's journal
    const later = await b.send(p);
    expect(later.body).toBe("after"); // ...but B never serves it again
  });

  it("a coordinator that cannot be reached is reported, never taken for a purge", async () => {
    const p = uniquePath();
    const r = await send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: ["x"] }) }, { PURGES: undefined });
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/PURGES/);
    expect(JSON.parse(r.body).result).toBeNull();
    expect(await coordinator().status()).toBeDefined();
    void p;
  });
});
