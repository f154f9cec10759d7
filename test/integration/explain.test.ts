/** The explain endpoint: what the cache would do with a URL for the caller's headers, and what it holds. */
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.ts";
import { purgesPublished, script, send, SITE, testEnv, uniquePath, withConfig } from "../helpers.ts";

interface Explained {
  key: { cacheKey: string; url: string; droppedParams: string[]; language: string | null };
  cookies: { stripped: string[]; forwarded: string[]; session: string[] };
  rule: { name: string | null; pattern?: string; why: string };
  bypass: { bypass: boolean; reason?: string; why?: string };
  originRequest: { url: string; headers: Record<string, string> };
  entry: null | { none?: string; tags?: string[]; ttl?: number; ttlLeft?: number; age?: number; state?: string; purged?: false | { by: string }; storedAt?: string };
  origins: Record<string, { down: boolean }>;
}

async function explain(url: string, headers: Record<string, string> = {}, env: Partial<Env> = {}, token = testEnv.PURGE_TOKEN) {
  const r = await send(`/__edge/explain?url=${encodeURIComponent(url)}`, { headers: { authorization: `Bearer ${token}`, ...headers } }, env);
  return { status: r.status, json: r.body.startsWith("{") ? (JSON.parse(r.body) as Explained) : null, body: r.body };
}

describe("explain", () => {
  it("explains a URL that is not cached yet: key, dropped params, rule, no entry", async () => {
    const p = uniquePath();
    const { status, json } = await explain(`${SITE}${p}?b=2&a=1&utm_source=x&gclid=y`, { cookie: "_ga=1; theme=dark" });
    expect(status).toBe(200);
    expect(json?.key.url).toBe(`${SITE}${p}?a=1&b=2`);
    expect(json?.key.droppedParams).toEqual(["utm_source", "gclid"]);
    expect(json?.cookies).toMatchObject({ stripped: ["_ga"], keyed: [], session: [] });
    expect(json?.rule).toMatchObject({ name: "html", pattern: "*" });
    expect(json?.bypass).toEqual({ bypass: false });
    expect(json?.entry).toMatchObject({ none: "uri-miss" });
    expect(json?.originRequest.url).toBe(`${p}?a=1&b=2`);
  });

  it("shows the stored entry: tags, age, TTL left, not purged; then purged", async () => {
    const p = uniquePath();
    const tag = `explain_${crypto.randomUUID().slice(0, 6)}`;
    await script(p, { headers: { "cache-control": "max-age=300", "cache-tag": tag } });
    await send(p);
    const before = (await explain(`${SITE}${p}`, {}, withConfig({ tagCheckMemoMs: 0 }))).json;
    expect(before?.entry).toMatchObject({ ttl: 300, state: "fresh", purged: false });
    expect(before?.entry?.tags).toContain(tag);
    expect(before?.entry?.ttlLeft).toBeGreaterThan(290);
    await send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${testEnv.PURGE_TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    await purgesPublished(); // purged through the default runtime: explain's runtime learns it from KV
    const after = (await explain(`${SITE}${p}`, {}, withConfig({ tagCheckMemoMs: 0 }))).json;
    expect(after?.entry?.purged).toEqual({ by: tag });
  });

  it("says why a request would bypass", async () => {
    expect((await explain(`${SITE}/admin/users/`)).json?.bypass).toMatchObject({ bypass: true, reason: "rule" });
    const session = (await explain(`${SITE}/blog/`, { cookie: "sessionid=s3cret-value" })).json;
    expect(session?.bypass).toMatchObject({ bypass: true, reason: "session" });
    // Cookie values are never echoed.
    expect(JSON.stringify(session)).not.toContain("s3cret-value");
  });

  it("evaluates the caller's language and keyed headers", async () => {
    const env = withConfig({ languages: ["en", "fr"] });
    const j = (await explain(`${SITE}/x`, { "accept-language": "fr-CA" }, env)).json;
    expect(j?.key.language).toBe("fr");
    expect(j?.originRequest.headers["accept-language"]).toBe("fr");
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", vary: "X-Device" } });
    const device = withConfig({ forwardHeaders: ["Accept", "X-Device"] });
    await send(p, { headers: { "x-device": "phone" } }, device);
    expect((await explain(`${SITE}${p}`, { "x-device": "phone" }, device)).json?.entry).toMatchObject({ state: "fresh" });
    expect((await explain(`${SITE}${p}`, { "x-device": "tablet" }, device)).json?.entry).toMatchObject({ none: "uri-miss" });
    expect((await explain(`${SITE}${p}`, { "x-device": "tablet" }, device)).json?.originRequest.headers["x-device"]).toBe("tablet");
  });

  it("is authenticated, and off without a token", async () => {
    expect((await explain(`${SITE}/`, {}, {}, "wrong-token-wrong-token")).status).toBe(401);
    const off = await send(`/__edge/explain?url=${encodeURIComponent(`${SITE}/`)}`, {}, { PURGE_TOKEN: "", EXPLAIN_TOKEN: "" });
    expect(off.status).toBe(404);
    expect((await explain(`${SITE}/`, {}, { EXPLAIN_TOKEN: "explain-token-0123456789" }, "explain-token-0123456789")).status).toBe(200);
  });

  it("rejects a missing or bad url with a reason", async () => {
    const r = await send("/__edge/explain", { headers: { authorization: `Bearer ${testEnv.PURGE_TOKEN}` } });
    expect(r.status).toBe(400);
    expect((await explain("ftp://x/")).status).toBe(400);
  });
});
