/**
 * Tags, the KV tag index and the purge API, end to end in workerd with miniflare's KV and Cache API.
 * The test origin doubles as a fake of Cloudflare's zone purge API (under /__cfapi): it logs each
 * call and answers as scripted (e.g. 429 then 200).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import type { Env } from "../../src/env.ts";
import { cloudflareZonePurger } from "../../src/zone-purge.ts";
import { originLog, purgesPublished, script, send, SITE, testEnv, uniquePath, withConfig, zonePurgesSent } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;

async function purge(body: unknown, opts: { token?: string | null; env?: Partial<Env>; headers?: Record<string, string>; method?: string } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null && !("authorization" in headers)) headers.authorization = `Bearer ${token}`;
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const r = await send("/__edge/purge", { method: opts.method ?? "POST", headers, body: opts.method === "GET" ? undefined : raw }, opts.env);
  return { ...r, json: r.body.startsWith("{") ? (JSON.parse(r.body) as { success: boolean; errors: { message: string }[]; result: Record<string, unknown> }) : null };
}

/** Fill `path` (expects a MISS that stores) and check the next request is a HIT. */
async function fill(path: string, env?: Partial<Env>, init: RequestInit = {}) {
  const a = await send(path, init, env);
  expect(a.header("cache-status")).toContain("stored");
  expect((await send(path, init, env)).header("x-cache")).toBe("HIT");
}

describe("purge by tag", () => {
  it("MISS -> HIT -> purge by tag -> MISS -> HIT", async () => {
    const p = uniquePath();
    const tag = `post_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-tag": `${tag},category_news` } });
    await fill(p);
    const r = await purge({ tags: [tag] });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ success: true, errors: [], result: { tags: 1, invalidated_tags: 1 } });
    const after = await send(p);
    expect(after.header("x-cache")).toBe("MISS");
    expect(after.header("cache-status")).toContain("detail=purged");
    expect((await send(p)).header("x-cache")).toBe("HIT");
    expect(await originLog(p)).toHaveLength(2);
  });

  it("reads tags from Surrogate-Key and X-Cache-Tag too, case-insensitively", async () => {
    const p1 = uniquePath();
    const p2 = uniquePath();
    const id = crypto.randomUUID().slice(0, 8);
    await script(p1, { headers: { "surrogate-key": `Author_${id} other` } });
    await script(p2, { headers: { "x-cache-tag": `x ${`AUTHOR_${id}`}` } });
    await fill(p1);
    await fill(p2);
    await purge({ tags: [`author_${id}`] });
    expect((await send(p1)).header("x-cache")).toBe("MISS");
    expect((await send(p2)).header("x-cache")).toBe("MISS");
  });

  it("other tags are untouched", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-tag": "keep_me" } });
    await fill(p);
    await purge({ tags: [`unrelated_${crypto.randomUUID()}`] });
    expect((await send(p)).header("x-cache")).toBe("HIT");
  });

  it("rule tags purge a whole class of entries", async () => {
    const p = `${uniquePath("/static")}.css`;
    await script(p, { headers: { "content-type": "text/css" } });
    await fill(p);
    await purge({ tags: ["static-assets"] });
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });

  it("never shows tags to clients unless the debug switch is on", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-tag": "secret_tag", "surrogate-key": "sk" } });
    const a = await send(p);
    const b = await send(p);
    for (const r of [a, b]) {
      expect(r.header("cache-tag")).toBeNull();
      expect(r.header("surrogate-key")).toBeNull();
      expect(r.header("x-edge-tags")).toBeNull();
    }
    const dbg = await send(p, {}, withConfig({ debugHeaders: true }));
    expect(dbg.header("x-edge-tags")).toContain("secret_tag");
  });

  it("drops invalid tags without failing the request", async () => {
    const p = uniquePath();
    const long = "x".repeat(1100);
    await script(p, { headers: { "cache-tag": `ok_tag,${long},caf\u00e9` } });
    const a = await send(p);
    expect(a.status).toBe(200);
    expect(a.header("cache-status")).toContain("stored");
    await purge({ tags: ["ok_tag"] });
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });
});

describe("purge by URL, prefix, host, everything", () => {
  it("purges a URL however its query was ordered or decorated", async () => {
    const p = uniquePath();
    await fill(`${p}/list?b=2&a=1`);
    const r = await purge({ files: [`${SITE}${p}/list?a=1&utm_source=news&b=2`] });
    expect(r.json?.result).toMatchObject({ files: 1, invalidated_tags: 1 });
    expect((await send(`${p}/list?a=1&b=2`)).header("x-cache")).toBe("MISS");
  });

  it("a URL purge reaches every language variant, and accepts Cloudflare's {url, headers} form", async () => {
    const p = uniquePath();
    const env = withConfig({ languages: ["en", "fr"] });
    await fill(p, env, { headers: { "accept-language": "fr" } });
    await fill(p, env, { headers: { "accept-language": "en" } });
    await purge({ files: [{ url: `${SITE}${p}`, headers: { "Accept-Language": "fr" } }] }, { env });
    expect((await send(p, { headers: { "accept-language": "fr" } }, env)).header("x-cache")).toBe("MISS");
    expect((await send(p, { headers: { "accept-language": "en" } }, env)).header("x-cache")).toBe("MISS");
  });

  it("a purge handled elsewhere is honoured here once the coordinator has published it (KV journal)", async () => {
    const p = uniquePath();
    const here = withConfig({ tagCheckMemoMs: 0 });
    await fill(p, here);
    // Another location: its own isolate (own app) and its own Cache API.
    await purge({ files: [`${SITE}${p}?utm_medium=x`] }, { env: withConfig({ tagCheckMemoMs: 0, cacheName: "elsewhere" }) });
    await purgesPublished();
    await send(p, {}, here); // the journal is refreshed in the background of a request
    expect((await send(p, {}, here)).header("x-cache")).toBe("MISS");
  });

  it("another isolate reads the journal at most every tagCheckMemoMs, then honours the purge", async () => {
    const p = uniquePath();
    const here = withConfig({ tagCheckMemoMs: 300 });
    await fill(p, here);
    await purge({ files: [`${SITE}${p}`] }, { env: withConfig({ cacheName: "elsewhere" }) });
    await purgesPublished();
    await new Promise((r) => setTimeout(r, 350));
    // Past the interval, the next request refreshes the journal in the background: the purge is
    // honoured by that request or the one after it, never later.
    const seen = [(await send(p, {}, here)).header("x-cache"), (await send(p, {}, here)).header("x-cache")];
    expect(seen).toContain("MISS");
  });

  it("purges a directory prefix on segment boundaries", async () => {
    const base = uniquePath();
    await fill(`${base}/blog/one/`);
    await fill(`${base}/blog/two/?page=2`);
    await fill(`${base}/blog`);
    await fill(`${base}/blogger/`);
    await fill(`${base}/news/`);
    const r = await purge({ prefixes: [`www.example.com${base}/blog/`] });
    expect(r.status).toBe(200);
    expect((await send(`${base}/blog/one/`)).header("x-cache")).toBe("MISS");
    expect((await send(`${base}/blog/two/?page=2`)).header("x-cache")).toBe("MISS");
    expect((await send(`${base}/blog`)).header("x-cache")).toBe("MISS");
    expect((await send(`${base}/blogger/`)).header("x-cache")).toBe("HIT");
    expect((await send(`${base}/news/`)).header("x-cache")).toBe("HIT");
  });

  it("a host with its default port names the same host", async () => {
    const host = `h${crypto.randomUUID().slice(0, 8)}.example.org`;
    const p = uniquePath();
    await fill(`https://${host}${p}`);
    await purge({ hosts: [`${host}:443`] });
    expect((await send(`https://${host}${p}`)).header("x-cache")).toBe("MISS");
  });

  it("purges a host", async () => {
    const host = `h${crypto.randomUUID().slice(0, 8)}.example.org`;
    const p = uniquePath();
    await fill(`https://${host}${p}`);
    await fill(`${SITE}${p}`);
    await purge({ hosts: [host] });
    expect((await send(`https://${host}${p}`)).header("x-cache")).toBe("MISS");
    expect((await send(`${SITE}${p}`)).header("x-cache")).toBe("HIT");
  });

  it("purge_everything makes every older entry a miss at once", async () => {
    const a = uniquePath();
    const b = uniquePath("/api");
    await fill(a);
    await fill(b);
    const r = await purge({ purge_everything: true });
    expect(r.json?.result).toMatchObject({ everything: true });
    expect((await send(a)).header("x-cache")).toBe("MISS");
    expect((await send(b)).header("x-cache")).toBe("MISS");
    expect((await send(a)).header("x-cache")).toBe("HIT");
  });
});

describe("purges racing fills", () => {
  it("a fill that started before a purge is not served after it", async () => {
    const p = uniquePath();
    const tag = `race_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { delayMs: 400, headers: { "cache-tag": tag }, body: "old" }, { headers: { "cache-tag": tag }, body: "new" });
    const ctx = createExecutionContext();
    const inflight = worker.fetch(new Request(`${SITE}${p}`), testEnv, ctx); // fill starts now
    await new Promise((r) => setTimeout(r, 100));
    await purge({ tags: [tag] }); // the purge lands while the origin is still answering
    const res = await inflight;
    expect(await res.text()).toBe("old"); // that client asked before the purge
    await waitOnExecutionContext(ctx); // ... and the old page is now stored
    const next = await send(p);
    expect(next.body).toBe("new");
    expect(next.header("cache-status")).toContain("detail=purged");
  });

  it("concurrent fills of many entries under one tag are all purged", async () => {
    const base = uniquePath();
    const tag = `group_${crypto.randomUUID().slice(0, 8)}`;
    const paths = Array.from({ length: 40 }, (_, i) => `${base}/item/${i}`);
    await Promise.all(paths.map((p) => script(p, { headers: { "cache-tag": tag } })));
    await Promise.all(paths.map((p) => send(p)));
    const hits = await Promise.all(paths.map((p) => send(p)));
    expect(hits.every((r) => r.header("x-cache") === "HIT")).toBe(true);
    await purge({ tags: [tag] });
    const after = await Promise.all(paths.map((p) => send(p)));
    expect(after.map((r) => r.header("x-cache"))).toEqual(paths.map(() => "MISS"));
  });

  it("purging the same tag twice within a second still invalidates fills in between", async () => {
    const p = uniquePath();
    const tag = `twice_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-tag": tag } });
    await fill(p);
    await purge({ tags: [tag] });
    await fill(p); // refilled after the first purge
    const second = await purge({ tags: [tag] });
    expect(second.status).toBe(200);
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });
});

describe("purge API input", () => {
  const cases: [string, unknown, number, RegExp][] = [
    ["malformed JSON", "{tags: [", 400, /malformed JSON/],
    ["a JSON array", "[]", 400, /body/],
    ["unknown fields", { tags: ["a"], extra: 1 }, 400, /unrecognized key|extra/i],
    ["empty body object", {}, 400, /nothing to purge/],
    ["more than 100 items", { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 400, /at most 100 items/],
    ["100 tags and 1 file", { tags: Array.from({ length: 100 }, (_, i) => `t${i}`), files: [`${SITE}/x`] }, 400, /at most 100 items/],
    ["a tag with spaces", { tags: ["has space"] }, 400, /not printable ASCII without spaces/],
    ["a relative file URL", { files: ["/blog/x/"] }, 400, /absolute http\(s\) URL/],
    ["a non-http file URL", { files: ["ftp://x/y"] }, 400, /absolute http\(s\) URL/],
    ["a bad host", { hosts: ["exa mple.com"] }, 400, /not a host name/],
    ["purge_everything: false", { purge_everything: false }, 400, /purge_everything/],
    ["purge_everything with tags", { purge_everything: true, tags: ["a"] }, 400, /cannot be combined/],
    ["tags not an array", { tags: "a" }, 400, /tags/],
  ];
  it.each(cases)("rejects %s with a reason", async (_name, body, status, reason) => {
    const r = await purge(body);
    expect(r.status).toBe(status);
    expect(r.json?.success).toBe(false);
    expect(r.json?.errors[0]?.message).toMatch(reason);
  });

  it("rejects an oversized body with 413", async () => {
    const r = await purge(JSON.stringify({ tags: ["a"], pad: "x".repeat(600_000) }));
    expect(r.status).toBe(413);
  });

  it("a rejected request purges nothing (no half-applied purge)", async () => {
    const p = uniquePath();
    const tag = `keep_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-tag": tag } });
    await fill(p);
    const r = await purge({ tags: [tag], files: ["not a url"] });
    expect(r.status).toBe(400);
    expect((await send(p)).header("x-cache")).toBe("HIT");
  });

  it.each([
    ["no token", null, {}],
    ["a wrong token", "wrong-token-0123456789", {}],
    ["a malformed Authorization", undefined, { authorization: "Basic dXNlcjpwYXNz" }],
    ["an empty bearer", undefined, { authorization: "Bearer " }],
  ] as const)("answers %s with the same 401", async (_n, token, headers) => {
    const r = await purge({ tags: ["a"] }, { token, headers, env: { CACHE_VERSION: crypto.randomUUID() } });
    expect(r.status).toBe(401);
    expect(r.json?.errors[0]?.message).toBe("authentication error");
    expect(r.body).not.toContain(TOKEN);
  });

  it("answers a wrong method with 405", async () => {
    const r = await purge(undefined, { method: "GET" });
    expect(r.status).toBe(405);
    expect(r.header("allow")).toBe("POST");
  });

  it("does not exist without a PURGE_TOKEN (and never reaches the origin)", async () => {
    const r = await purge({ tags: ["a"] }, { env: { PURGE_TOKEN: "" } });
    expect(r.status).toBe(404);
    expect(r.json?.errors[0]?.message).toMatch(/disabled/);
    expect(await originLog("/__edge/purge")).toHaveLength(0);
  });

  it.each([
    ["/__edge/purge/", 308],
    ["/__EDGE/purge", 404],
    ["/__edge/Purge", 404],
    ["/__edge/anything", 404],
  ])("a near miss (%s) is answered by the worker (%i), never forwarded with the token", async (path, status) => {
    const r = await send(path, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "{}" });
    expect(r.status).toBe(status);
    expect(await originLog(path)).toHaveLength(0);
  });

  it("rate-limits repeated failed authentications per client IP", async () => {
    const env = { CACHE_VERSION: crypto.randomUUID() };
    const headers = { "cf-connecting-ip": "198.51.100.77" };
    for (let i = 0; i < 10; i++) expect((await purge({ tags: ["a"] }, { token: "nope-nope-nope-nope", headers, env })).status).toBe(401);
    const blocked = await purge({ tags: ["a"] }, { token: "nope-nope-nope-nope", headers, env });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.header("retry-after"))).toBeGreaterThan(50);
    expect(Number(blocked.header("retry-after"))).toBeLessThanOrEqual(60);
    // Other clients are unaffected.
    expect((await purge({ tags: ["a"] }, { headers: { "cf-connecting-ip": "198.51.100.78" }, env })).status).toBe(200);
  });

  it("enforces the IP allow-list", async () => {
    const env = withConfig({ purgeAllowIps: ["10.0.0.0/8", "2001:db8::/32"] });
    expect((await purge({ tags: ["a"] }, { env, headers: { "cf-connecting-ip": "203.0.113.5" } })).status).toBe(403);
    expect((await purge({ tags: ["a"] }, { env, headers: { "cf-connecting-ip": "10.1.2.3" } })).status).toBe(200);
    expect((await purge({ tags: ["a"] }, { env, headers: { "cf-connecting-ip": "2001:db8::1" } })).status).toBe(200);
  });
});

describe("zone purge", () => {
  const zone = "0123456789abcdef0123456789abcdef";
  const api = () => `${testEnv.ORIGIN_URL}/__cfapi/${crypto.randomUUID().slice(0, 8)}`;

  it("the purge API also asks Cloudflare to purge the tags, with the API token (from the coordinator, off the caller's time)", async () => {
    const base = api();
    await script(`${new URL(base).pathname}/zones/${zone}/purge_cache`, { status: 200, body: '{"success":true}' });
    const env = { ...withConfig({ zoneId: zone, zonePurgeApi: base }), CF_API_TOKEN: "cf-api-token-xyz" };
    const r = await purge({ tags: ["post_1", "post_2"] }, { env });
    expect(r.json?.result).toMatchObject({ zone_purge: "queued" });
    await zonePurgesSent();
    const calls = await originLog(new URL(base).pathname);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers.authorization).toBe("Bearer cf-api-token-xyz");
    expect(JSON.parse(calls[0]!.body)).toEqual({ tags: ["post_1", "post_2"] });
  });

  it("batches 100 tags per call and retries a 429", async () => {
    const base = api();
    const path = `${new URL(base).pathname}/zones/${zone}/purge_cache`;
    await script(path, { status: 429, headers: { "retry-after": "0" }, body: "{}" }, { status: 200, body: '{"success":true}' });
    const purger = cloudflareZonePurger({ apiBase: base, zoneId: zone, token: "t", backoffMs: 1 });
    const tags = Array.from({ length: 250 }, (_, i) => `tag_${i}`);
    const result = await purger.purge({ tags });
    expect(result).toMatchObject({ ok: true, calls: 4 });
    const bodies = (await originLog(path)).map((c) => (JSON.parse(c.body) as { tags: string[] }).tags.length);
    expect(bodies).toEqual([100, 100, 100, 50]); // first batch answered 429, then retried
  });

  it("gives up after repeated failures and reports it", async () => {
    const base = api();
    const path = `${new URL(base).pathname}/zones/${zone}/purge_cache`;
    await script(path, { status: 429, headers: { "retry-after": "0" } });
    const result = await cloudflareZonePurger({ apiBase: base, zoneId: zone, token: "t", backoffMs: 1 }).purge({ everything: true });
    expect(result.ok).toBe(false);
    expect(result.calls).toBe(5);
    expect(JSON.parse((await originLog(path))[0]!.body)).toEqual({ purge_everything: true });
  });

  it("without a zone id or token, the KV path alone is used", async () => {
    const r = await purge({ tags: ["solo"] });
    expect(r.json?.result).toMatchObject({ zone_purge: "not configured" });
  });
});
