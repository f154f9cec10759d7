/**
 * The request pipeline end to end: the real worker entry inside workerd, miniflare's Cache API,
 * and a real HTTP origin on loopback (test/origin/server.ts).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { originLog, script, send, SITE, testEnv, uniquePath, withConfig } from "../helpers.ts";

describe("MISS then HIT", () => {
  it("stores a cacheable page and serves it without the origin", async () => {
    const p = uniquePath();
    const a = await send(`${p}/page`);
    expect(a.status).toBe(200);
    expect(a.header("x-cache")).toBe("MISS");
    expect(a.header("cache-status")).toBe("edge-cache; fwd=uri-miss; fwd-status=200; stored; ttl=1800; detail=html");
    const b = await send(`${p}/page`);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.header("cache-status")).toMatch(/^edge-cache; hit; ttl=\d+; detail=html; ec-tier=(memory|cache-api)$/);
    expect(b.header("age")).toMatch(/^\d+$/);
    expect(b.body).toBe(a.body);
    expect(await originLog(p)).toHaveLength(1);
  });

  it("HEAD is answered from the GET entry, and a HEAD miss fills it", async () => {
    const p = uniquePath();
    const head = await send(`${p}/h`, { method: "HEAD" });
    expect(head.header("x-cache")).toBe("MISS");
    expect(head.body).toBe("");
    const get = await send(`${p}/h`);
    expect(get.header("x-cache")).toBe("HIT");
    expect(get.body).toContain(`${p}/h #1`);
    const head2 = await send(`${p}/h`, { method: "HEAD" });
    expect(head2.header("x-cache")).toBe("HIT");
    expect(head2.body).toBe("");
    expect((await originLog(p)).map((r) => r.method)).toEqual(["GET"]);
  });
});

describe("key normalisation", () => {
  it("parameter order and tracking parameters hit the same entry", async () => {
    const p = uniquePath();
    await send(`${p}/list?b=2&a=1`);
    const same = [`${p}/list?a=1&b=2`, `${p}/list?a=1&utm_source=mail&b=2&gclid=x`, `${p}/list?fbclid=1&b=2&a=1&mc_cid=3`];
    for (const url of same) expect((await send(url)).header("x-cache")).toBe("HIT");
    expect((await send(`${p}/list?a=1&b=3`)).header("x-cache")).toBe("MISS");
    // The origin received the normalised form: what was keyed is what was fetched.
    expect((await originLog(p)).map((r) => r.path)).toEqual([`${p}/list?a=1&b=2`, `${p}/list?a=1&b=3`]);
  });

  it("keys each configured language separately and forwards the folded value", async () => {
    const p = uniquePath();
    const cfg = withConfig({ languages: ["en", "fr"] });
    await send(`${p}/i18n`, { headers: { "accept-language": "fr-CA,fr;q=0.9" } }, cfg);
    expect((await send(`${p}/i18n`, { headers: { "accept-language": "fr" } }, cfg)).header("x-cache")).toBe("HIT");
    expect((await send(`${p}/i18n`, { headers: { "accept-language": "en-GB" } }, cfg)).header("x-cache")).toBe("MISS");
    expect((await send(`${p}/i18n`, {}, cfg)).header("x-cache")).toBe("HIT");
    expect((await originLog(p)).map((r) => r.headers["accept-language"])).toEqual(["fr", "en"]);
  });

  it("tells clients the page varies by language, but keys static assets once for all languages", async () => {
    const cfg = withConfig({ languages: ["en", "fr"] });
    const page = await send(`${uniquePath()}/i18n`, { headers: { "accept-language": "fr" } }, cfg);
    expect(page.header("vary")).toBe("Accept-Language");
    const css = `${uniquePath("/static")}.css`;
    await script(css, { headers: { "content-type": "text/css" } });
    await send(css, { headers: { "accept-language": "fr" } }, cfg);
    const en = await send(css, { headers: { "accept-language": "en" } }, cfg);
    expect(en.header("x-cache")).toBe("HIT");
    expect(en.header("vary")).toBeNull();
  });

  it("a cache version bump starts from an empty cache", async () => {
    const p = uniquePath();
    await send(`${p}/v`);
    expect((await send(`${p}/v`)).header("x-cache")).toBe("HIT");
    expect((await send(`${p}/v`, {}, { CACHE_VERSION: "bumped" })).header("x-cache")).toBe("MISS");
  });
});

describe("cookies", () => {
  it("the origin never sees analytics cookies, and they do not split the cache", async () => {
    const p = uniquePath();
    const a = await send(`${p}/c`, { headers: { cookie: "_ga=GA1.2.3; _gid=x; _fbp=fb; __utmz=1; _gcl_au=2; _hjid=3" } });
    expect(a.header("x-cache")).toBe("MISS");
    const b = await send(`${p}/c`, { headers: { cookie: "_ga=GA1.9.9; _ga_ABC=1" } });
    expect(b.header("x-cache")).toBe("HIT");
    const [seen] = await originLog(p);
    expect(seen?.headers.cookie).toBeUndefined();
  });

  it("a cacheable request forwards no cookie the key does not hold; a bypassed one keeps the others byte for byte", async () => {
    const p = uniquePath();
    await send(`${p}/c`, { headers: { cookie: "_ga=1; theme=dark; _gid=2; csrftoken=abc" } });
    await send(`${p}/c`, { method: "POST", body: "x", headers: { cookie: "_ga=1; theme=dark; _gid=2; csrftoken=abc" } });
    const [get, post] = await originLog(p);
    expect(get?.headers.cookie).toBeUndefined();
    expect(post?.headers.cookie).toBe("theme=dark; csrftoken=abc");
  });

  it("strips analytics cookies on bypassed requests too", async () => {
    const p = uniquePath();
    await send(`${p}/form`, { method: "POST", body: "x=1", headers: { cookie: "_ga=1; sessionid=s1" } });
    const [seen] = await originLog(p);
    expect(seen?.headers.cookie).toBe("sessionid=s1");
    expect(seen?.body).toBe("x=1");
  });

  it("a broken Cookie header is handled, not a crash", async () => {
    const p = uniquePath();
    const r = await send(`${p}/c`, { headers: { cookie: ";;=;  ;_ga;=x; a=\"b; \u00ff=1" } });
    expect(r.status).toBe(200);
  });
});

describe("bypass", () => {
  it.each([
    ["a session cookie", { headers: { cookie: "sessionid=abc" } }, "session"],
    ["an Authorization header", { headers: { authorization: "Bearer x" } }, "authorization"],
    ["POST", { method: "POST", body: "a=1" }, "method"],
    ["PUT", { method: "PUT", body: "a=1" }, "method"],
    ["DELETE", { method: "DELETE" }, "method"],
  ] as const)("%s goes to the origin every time and is never stored", async (_name, init, reason) => {
    const p = uniquePath();
    for (let i = 0; i < 2; i++) {
      const r = await send(`${p}/b`, init);
      expect(r.header("x-cache")).toBe("BYPASS");
      expect(r.header("cache-status")).toBe(`edge-cache; fwd=bypass; fwd-status=200; detail=${reason}`);
    }
    expect(await originLog(p)).toHaveLength(2);
    // Nothing was stored for anonymous visitors either.
    expect((await send(`${p}/b`)).header("x-cache")).toBe("MISS");
  });

  it("admin paths are never cached", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await send("/admin/");
      expect(r.header("x-cache")).toBe("BYPASS");
      expect(r.header("cache-status")).toContain("detail=rule");
    }
  });

  it("?nocache is an ordinary parameter unless enabled", async () => {
    const p = uniquePath();
    await send(`${p}/n?nocache=1`);
    expect((await send(`${p}/n?nocache=1`)).header("x-cache")).toBe("HIT");
    const on = withConfig({ allowNocacheParam: true });
    expect((await send(`${p}/n?nocache=1`, {}, on)).header("x-cache")).toBe("BYPASS");
  });

  it("bypassed requests keep their query exactly as sent", async () => {
    const p = uniquePath();
    await send(`${p}/q?z=1&utm_source=x&a=2`, { method: "POST" });
    expect((await originLog(p))[0]?.path).toBe(`${p}/q?z=1&utm_source=x&a=2`);
  });
});

describe("per-path policy", () => {
  it.each([
    ["/static", ".css", "text/css", "public, max-age=31536000, immutable", 31536000],
    ["/media", ".jpg", "image/jpeg", "public, max-age=86400", 86400],
    ["/api", "/", "application/json", "public, max-age=300, s-maxage=600", 600],
    ["/blog", "/", "text/html; charset=utf-8", "public, max-age=300, s-maxage=1800", 1800],
  ])("%s%s gets its Cache-Control", async (prefix, suffix, type, cc, ttl) => {
    const p = `${uniquePath(prefix)}${suffix}`;
    await script(p, { headers: { "content-type": type } });
    const a = await send(p);
    expect(a.header("cache-control")).toBe(cc);
    expect(a.header("cache-status")).toContain(`stored; ttl=${ttl}`);
    const b = await send(p);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.header("cache-control")).toBe(cc);
  });

  it("the origin's own Cache-Control wins over a fill-in rule", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "public, max-age=42" } });
    const a = await send(p);
    expect(a.header("cache-control")).toBe("public, max-age=42");
    expect(a.header("cache-status")).toContain("ttl=42");
  });

  it("the demo site's pages carry the documented headers", async () => {
    const home = await send("/", {}, { CACHE_VERSION: crypto.randomUUID() });
    expect(home.header("cache-control")).toBe("public, max-age=300, s-maxage=1800");
    const css = await send("/static/app.css", {}, { CACHE_VERSION: crypto.randomUUID() });
    expect(css.header("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  it("a dynamic page answering under /static/ is not stored as an asset", async () => {
    const p = `${uniquePath("/static")}/account.css`;
    await script(p, { headers: { "content-type": "text/html" }, body: "<h1>Your account</h1>" });
    const a = await send(p);
    expect(a.header("cache-status")).toContain("detail=content-type");
    expect(a.header("cache-control")).toBeNull();
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });
});

describe("status codes", () => {
  it("404 is cached briefly", async () => {
    const p = uniquePath();
    await script(p, { status: 404, body: "not here" });
    const a = await send(p);
    expect(a.status).toBe(404);
    expect(a.header("cache-control")).toBe("public, max-age=60");
    expect(a.header("cache-status")).toContain("stored; ttl=60");
    const b = await send(p);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.status).toBe(404);
  });

  it.each([500, 502, 503, 504])("%i is never stored, even with caching headers", async (status) => {
    const p = uniquePath();
    await script(p, { status, headers: { "cache-control": "public, max-age=600" } }, { status: 200, body: "recovered" });
    const a = await send(p);
    expect(a.status).toBe(status);
    expect(a.header("cache-status")).toContain("detail=status");
    const b = await send(p);
    expect(b.status).toBe(200);
    expect(b.body).toBe("recovered");
    expect(b.header("x-cache")).toBe("MISS");
  });

  it("redirects are returned, not followed, and cached by the rule", async () => {
    const p = uniquePath();
    await script(p, { status: 301, headers: { location: "/elsewhere/" }, body: "" });
    const a = await send(p);
    expect(a.status).toBe(301);
    expect(a.header("location")).toBe("/elsewhere/");
    expect((await send(p)).header("x-cache")).toBe("HIT");
  });
});

describe("private responses", () => {
  it("a Set-Cookie response is never shared between users", async () => {
    const p = uniquePath();
    await script(p,
      { headers: { "set-cookie": "csrftoken=USER-A; Path=/" }, body: "page for A" },
      { headers: { "set-cookie": "csrftoken=USER-B; Path=/" }, body: "page for B" });
    const a = await send(p);
    const b = await send(p);
    expect(a.header("set-cookie")).toContain("USER-A");
    expect(b.header("set-cookie")).toContain("USER-B");
    expect(b.body).toBe("page for B");
    expect([a.header("x-cache"), b.header("x-cache")]).toEqual(["MISS", "MISS"]);
    expect(a.header("cache-control")).toBe("private");
  });

  it.each([
    ["private", { "cache-control": "private" }],
    ["no-store", { "cache-control": "no-store" }],
    ["Vary: *", { vary: "*" }],
  ])("%s is not stored", async (_n, headers) => {
    const p = uniquePath();
    await script(p, { headers });
    await send(p);
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });
});

describe("response headers", () => {
  it("removes Server and X-Powered-By, adds configured security headers", async () => {
    const p = uniquePath();
    await script(p, { headers: { server: "gunicorn", "x-powered-by": "Django" } });
    const cfg = withConfig({ securityHeaders: { contentTypeOptions: true, frameOptions: "DENY", hstsMaxAge: 31536000, hstsIncludeSubdomains: true } });
    for (const r of [await send(p, {}, cfg), await send(p, {}, cfg)]) {
      expect(r.header("server")).toBeNull();
      expect(r.header("x-powered-by")).toBeNull();
      expect(r.header("x-content-type-options")).toBe("nosniff");
      expect(r.header("x-frame-options")).toBe("DENY");
      expect(r.header("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
    }
  });

  it("sends no security headers by default", async () => {
    const r = await send(`${uniquePath()}/x`);
    expect(r.header("strict-transport-security")).toBeNull();
    expect(r.header("x-frame-options")).toBeNull();
  });
});

describe("origin", () => {
  it("sets X-Forwarded-* itself and never passes the client's on (the client IP only on bypassed requests)", async () => {
    const p = uniquePath();
    const headers = { "x-forwarded-host": "evil.example", "x-forwarded-proto": "http", "cf-connecting-ip": "203.0.113.9", "x-forwarded-for": "1.2.3.4" };
    await send(`${p}/f`, { headers });
    await send(`${p}/f`, { method: "POST", body: "x", headers });
    const [fill, passed] = await originLog(p);
    for (const seen of [fill, passed]) {
      expect(seen?.headers["x-forwarded-host"]).toBe("www.example.com");
      expect(seen?.headers["x-forwarded-proto"]).toBe("https");
    }
    // A fill is made for everyone who shares the entry: no client's address goes with it.
    expect(fill?.headers["x-forwarded-for"]).toBeUndefined();
    expect(passed?.headers["x-forwarded-for"]).toBe("203.0.113.9");
  });

  it("a slow origin gives a clean 504 that is not stored", async () => {
    const p = uniquePath();
    await script(p, { delayMs: 1500 }, { body: "fast now" });
    const cfg = withConfig({ originTimeoutMs: 300 });
    const a = await send(p, {}, cfg);
    expect(a.status).toBe(504);
    expect(a.header("cache-control")).toBe("no-store");
    expect(a.header("cache-status")).toContain("detail=origin-timeout");
    const b = await send(p, {}, cfg);
    expect(b.status).toBe(200);
    expect(b.body).toBe("fast now");
  });

  it("an unreachable origin gives a clean 502", async () => {
    const r = await send(`${uniquePath()}/x`, {}, { ORIGIN_URL: "http://127.0.0.1:9" });
    expect(r.status).toBe(502);
    expect(r.header("cache-status")).toContain("detail=origin-unreachable");
  });

  it("a body that breaks mid-stream is never stored", async () => {
    const p = uniquePath();
    await script(p, { reset: "mid-body", body: "x".repeat(20000) }, { body: "whole" });
    await send(p).catch(() => undefined);
    const b = await send(p);
    expect(b.body).toBe("whole");
    expect(b.header("x-cache")).toBe("MISS");
  });
});

describe("entry size", () => {
  it("serves but does not store a body larger than maxEntryBytes", async () => {
    const p = uniquePath();
    await script(p, { body: "y".repeat(5000) });
    const cfg = withConfig({ maxEntryBytes: 4096 });
    const a = await send(p, {}, cfg);
    expect(a.body).toHaveLength(5000);
    expect((await send(p, {}, cfg)).header("x-cache")).toBe("MISS");
  });
});

describe("configuration", () => {
  it("an invalid configuration fails naming the field, not with a mystery", async () => {
    await expect(send("/", {}, withConfig({ rules: [{ name: "x", paths: ["nope"] }] }))).rejects.toThrow(/rules\[0\]\.paths\[0\]/);
  });
});

describe("time (injected clock)", () => {
  it("Age grows on hits and the entry goes stale after its TTL", async () => {
    let now = Date.parse("2026-11-22T10:00:00Z");
    const config = parseConfig({ ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: crypto.randomUUID() });
    const app = createApp(config, { now: () => now });
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=100", age: "10" } });
    const go = async () => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${SITE}${p}`), testEnv, ctx);
      await res.text();
      await waitOnExecutionContext(ctx);
      return res;
    };
    const miss = await go();
    expect(miss.headers.get("cache-status")).toContain("stored; ttl=90");
    now += 30_000;
    const hit = await go();
    expect(hit.headers.get("x-cache")).toBe("HIT");
    expect(hit.headers.get("age")).toBe("40");
    expect(hit.headers.get("cache-status")).toContain("ttl=60");
    now += 61_000;
    const stale = await go();
    expect(stale.headers.get("x-cache")).toBe("MISS");
    expect(stale.headers.get("cache-status")).toContain("fwd=stale");
  });
});
