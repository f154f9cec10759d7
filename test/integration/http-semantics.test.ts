/**
 * HTTP caching semantics (RFC 9111 / 9110 / 9211 / 9213 / 5861), each case quoting its section,
 * run in workerd against the loopback test origin, which is told per path what to answer.
 */
import { describe, expect, it } from "vitest";
import { FORWARDED_BY_DEFAULT } from "../../src/defaults.ts";
import { clockedWorker, originLog, purgesPublished, script, send, testEnv, uniquePath, withConfig } from "../helpers.ts";

/** The origin varies on X-Device: it must be allowed through to the origin (forwardHeaders). */
const device = withConfig({ forwardHeaders: [...FORWARDED_BY_DEFAULT, "X-Device"] });

describe("freshness (RFC 9111 §4.2)", () => {
  it.each([
    ["§4.2.1 s-maxage over max-age", { "cache-control": "max-age=10, s-maxage=100" }, 100],
    ["§4.2.1 max-age over Expires", { "cache-control": "max-age=10", expires: "Thu, 01 Jan 2099 00:00:00 GMT" }, 10],
    ["§4.2.3 Age from upstream is counted in", { "cache-control": "max-age=100", age: "30" }, 70],
    ["RFC 9213 §2.1 CDN-Cache-Control wins over Cache-Control", { "cdn-cache-control": "max-age=50", "cache-control": "max-age=5" }, 50],
    ["RFC 9213 Cloudflare-CDN-Cache-Control wins over CDN-Cache-Control", { "cloudflare-cdn-cache-control": "max-age=40", "cdn-cache-control": "max-age=50" }, 40],
  ])("%s", async (_name, headers, ttl) => {
    const p = uniquePath();
    await script(p, { headers });
    expect((await send(p)).header("cache-status")).toContain(`stored; ttl=${ttl}`);
  });

  it("RFC 9213 §2.1: the Cloudflare-targeted field is consumed, not passed to clients", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cloudflare-cdn-cache-control": "max-age=40", "cache-control": "max-age=5" } });
    for (const r of [await send(p), await send(p)]) {
      expect(r.header("cloudflare-cdn-cache-control")).toBeNull();
      expect(r.header("cache-control")).toBe("max-age=5");
    }
  });

  it("§4.2.3 / RFC 9110 §6.6.1: Age grows, Date is always present", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=100" } });
    const miss = await w.send(p);
    expect(miss.header("date")).not.toBeNull();
    w.advance(25);
    const hit = await w.send(p);
    expect(hit.header("age")).toBe("25");
    expect(hit.header("date")).toBe(miss.header("date"));
  });
});

describe("not storable in a shared cache (RFC 9111 §3)", () => {
  it.each([
    ["§5.2.2.7 private", { headers: { "cache-control": "private, max-age=60" } }],
    ["§5.2.2.5 no-store", { headers: { "cache-control": "no-store" } }],
    ["§4.1 Vary: *", { headers: { "cache-control": "max-age=60", vary: "*" } }],
    ["§3 status not understood (599)", { status: 599, headers: { "cache-control": "max-age=60" } }],
    ["§3 partial content (206)", { status: 206, headers: { "cache-control": "max-age=60", "content-range": "bytes 0-1/10" } }],
    ["§5.2.2.4 no-cache without validators", { headers: { "cache-control": "no-cache" } }],
  ])("%s", async (_name, spec) => {
    const p = uniquePath();
    await script(p, spec);
    await send(p);
    expect((await send(p)).header("x-cache")).not.toBe("HIT");
    expect(await originLog(p)).toHaveLength(2);
  });

  it("§3.5: a response to a request with Authorization is never shared, even when it says it may be", async () => {
    const shared = uniquePath();
    await script(shared, { headers: { "cache-control": "public, max-age=60" }, body: "for alice" });
    const auth = { headers: { authorization: "Bearer alice" } };
    const a = await send(shared, auth);
    expect(a.header("x-cache")).toBe("BYPASS");
    expect(a.header("cache-status")).toContain("detail=authorization");
    expect(a.header("cache-status")).not.toContain("stored");
    // Nothing an authorized request brought back is served to anyone else.
    const anonymous = await send(shared);
    expect(anonymous.header("x-cache")).toBe("MISS");
    // An authorized request is never answered from the cache either: the origin decides who sees what.
    expect((await send(shared, auth)).header("x-cache")).toBe("BYPASS");
    expect(await originLog(shared)).toHaveLength(3);
  });
});

describe("revalidation (RFC 9111 §4.3)", () => {
  it("§4.3.1/§4.3.4: a stale entry is revalidated with its validators and a 304 refreshes it", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "max-age=10", etag: '"v1"', "last-modified": "Sat, 21 Nov 2026 10:00:00 GMT", "x-version": "1" }, body: "body v1" },
      { status: 304, headers: { "cache-control": "max-age=60", etag: '"v1"', "x-version": "2" }, body: "" });
    await w.send(p);
    w.advance(11);
    const r = await w.send(p);
    expect(r.status).toBe(200);
    expect(r.body).toBe("body v1");
    expect(r.header("x-version")).toBe("2");
    expect(r.header("cache-status")).toContain("fwd=stale; fwd-status=304; stored; ttl=60");
    const log = await originLog(p);
    expect(log[1]?.headers["if-none-match"]).toBe('"v1"');
    expect(log[1]?.headers["if-modified-since"]).toBe("Sat, 21 Nov 2026 10:00:00 GMT");
    w.advance(30);
    const after = await w.send(p);
    expect(after.header("x-cache")).toBe("HIT");
    expect(after.header("x-version")).toBe("2");
  });

  it("§5.2.2.4: no-cache with an ETag is stored but revalidated on every request", async () => {
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "no-cache", etag: '"a"' }, body: "payload" },
      { status: 304, headers: { "cache-control": "no-cache", etag: '"a"' }, body: "" });
    await send(p);
    const second = await send(p);
    const third = await send(p);
    expect([second.body, third.body]).toEqual(["payload", "payload"]);
    expect(second.header("cache-status")).toContain("fwd-status=304");
    expect((await originLog(p)).map((r) => r.headers["if-none-match"] ?? null)).toEqual([null, '"a"', '"a"']);
  });

  it("a 200 answer to revalidation replaces the entry", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "max-age=10", etag: '"v1"' }, body: "old" },
      { headers: { "cache-control": "max-age=10", etag: '"v2"' }, body: "new" });
    await w.send(p);
    w.advance(11);
    expect((await w.send(p)).body).toBe("new");
    expect((await w.send(p)).header("x-cache")).toBe("HIT");
  });
});

describe("Vary (RFC 9111 §4.1): the origin receives only what the key holds", () => {
  it("a header declared in forwardHeaders is keyed by value: variants never cross", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", vary: "X-Device" } });
    const mobile = { headers: { "x-device": "mobile" } };
    const desktop = { headers: { "x-device": "desktop" } };
    const a = await send(p, mobile, device);
    expect(a.header("cache-status")).toContain("fwd=uri-miss");
    expect((await send(p, mobile, device)).header("x-cache")).toBe("HIT");
    const b = await send(p, desktop, device);
    expect(b.header("x-cache")).toBe("MISS");
    expect(b.header("cache-status")).toContain("fwd=uri-miss");
    expect((await send(p, desktop, device)).header("x-cache")).toBe("HIT");
    expect((await send(p, mobile, device)).header("x-cache")).toBe("HIT");
    expect((await originLog(p)).map((r) => r.headers["x-device"])).toEqual(["mobile", "desktop"]);
  });

  it("a header outside forwardHeaders never reaches the origin, so a Vary on it has one variant", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", vary: "X-Device" } });
    await send(p, { headers: { "x-device": "mobile" } });
    expect((await send(p, { headers: { "x-device": "desktop" } })).header("x-cache")).toBe("HIT");
    expect((await originLog(p))[0]?.headers["x-device"]).toBeUndefined();
  });

  it("Vary: Cookie: cookies outside keyCookies never reach the origin, so there is one shared page", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", vary: "Cookie" } });
    await send(p);
    expect((await send(p, { headers: { cookie: "_ga=1" } })).header("x-cache")).toBe("HIT");
    expect((await send(p, { headers: { cookie: "theme=dark" } })).header("x-cache")).toBe("HIT");
    expect((await originLog(p)).map((r) => r.headers.cookie)).toEqual([undefined]);
  });

  it("Vary: Cookie with keyCookies: one page per keyed value, and only that cookie is sent", async () => {
    const p = uniquePath();
    const env = withConfig({ keyCookies: ["currency"] });
    await script(p, { headers: { "cache-control": "max-age=60", vary: "Cookie" } });
    await send(p, { headers: { cookie: "currency=eur; theme=dark" } }, env);
    expect((await send(p, { headers: { cookie: "theme=light; currency=eur" } }, env)).header("x-cache")).toBe("HIT");
    expect((await send(p, { headers: { cookie: "currency=usd" } }, env)).header("x-cache")).toBe("MISS");
    expect((await send(p, {}, env)).header("x-cache")).toBe("MISS");
    expect((await originLog(p)).map((r) => r.headers.cookie)).toEqual(["currency=eur", "currency=usd", undefined]);
  });

  it("Accept-Language folded into the key needs no extra variant", async () => {
    const p = uniquePath();
    const env = withConfig({ languages: ["en", "fr"] });
    await script(p, { headers: { "cache-control": "max-age=60", vary: "Accept-Language" } });
    await send(p, { headers: { "accept-language": "fr-FR" } }, env);
    const hit = await send(p, { headers: { "accept-language": "fr" } }, env);
    expect(hit.header("x-cache")).toBe("HIT");
    expect(hit.header("cache-status")).not.toContain("vary");
  });
});

describe("answering conditional and range requests from cache (RFC 9110 §13, §14)", () => {
  const spec = { headers: { "cache-control": "max-age=60", etag: '"abc"', "last-modified": "Sat, 21 Nov 2026 10:00:00 GMT" }, body: "0123456789" };

  it.each([
    ["§13.1.2 If-None-Match matches", { "if-none-match": '"abc"' }, 304],
    ["§13.1.2 weak comparison", { "if-none-match": 'W/"abc"' }, 304],
    ["§13.1.2 list with a match", { "if-none-match": '"x", "abc"' }, 304],
    ["§13.1.2 no match", { "if-none-match": '"other"' }, 200],
    ["§13.1.3 If-Modified-Since not modified", { "if-modified-since": "Sun, 22 Nov 2026 10:00:00 GMT" }, 304],
    ["§13.1.3 If-Modified-Since modified", { "if-modified-since": "Fri, 20 Nov 2026 10:00:00 GMT" }, 200],
    ["§13.2.2 If-None-Match takes precedence", { "if-none-match": '"other"', "if-modified-since": "Sun, 22 Nov 2026 10:00:00 GMT" }, 200],
  ])("%s -> %i, on the HIT and on the MISS alike", async (_n, headers, status) => {
    const p = uniquePath();
    await script(p, spec);
    const miss = await send(p, { headers });
    const hit = await send(p, { headers });
    expect([miss.status, hit.status]).toEqual([status, status]);
    expect(hit.header("x-cache")).toBe("HIT");
    if (status === 304) {
      expect(hit.body).toBe("");
      expect(hit.header("etag")).toBe('"abc"');
    }
    // The origin was asked for the full representation, unconditionally.
    expect((await originLog(p))[0]?.headers["if-none-match"]).toBeUndefined();
  });

  it.each([
    ["§14.1.2 first bytes", "bytes=0-3", 206, "0123", "bytes 0-3/10"],
    ["§14.1.2 open-ended", "bytes=7-", 206, "789", "bytes 7-9/10"],
    ["§14.1.2 suffix", "bytes=-2", 206, "89", "bytes 8-9/10"],
    ["§14.1.2 end past the length is clipped", "bytes=8-100", 206, "89", "bytes 8-9/10"],
    ["§15.5.17 unsatisfiable", "bytes=20-30", 416, "", "bytes */10"],
    ["§14.2 multiple ranges may be ignored", "bytes=0-1,4-5", 200, "0123456789", null],
    ["§14.2 other units are ignored", "items=0-1", 200, "0123456789", null],
  ])("%s: Range %s from the cached full response", async (_n, range, status, body, contentRange) => {
    const p = uniquePath();
    await script(p, spec);
    await send(p);
    const r = await send(p, { headers: { range } });
    expect(r.header("x-cache")).toBe("HIT");
    expect(r.status).toBe(status);
    expect(r.body).toBe(body);
    expect(r.header("content-range")).toBe(contentRange);
    expect(await originLog(p)).toHaveLength(1);
  });

  it("§13.1.5 If-Range that does not match sends the whole representation", async () => {
    const p = uniquePath();
    await script(p, spec);
    await send(p);
    expect((await send(p, { headers: { range: "bytes=0-1", "if-range": '"abc"' } })).status).toBe(206);
    expect((await send(p, { headers: { range: "bytes=0-1", "if-range": '"zzz"' } })).status).toBe(200);
  });

  it("RFC 9110 §9.3.2 HEAD is answered from the GET entry", async () => {
    const p = uniquePath();
    await script(p, spec);
    await send(p);
    const head = await send(p, { method: "HEAD" });
    expect(head.header("x-cache")).toBe("HIT");
    expect(head.header("etag")).toBe('"abc"');
    expect(head.body).toBe("");
  });
});

describe("unsafe methods invalidate (RFC 9111 §4.4)", () => {
  it.each(["POST", "PUT", "DELETE", "PATCH"])("a successful %s invalidates the target URI", async (method) => {
    const p = uniquePath();
    await send(p);
    expect((await send(p)).header("x-cache")).toBe("HIT");
    await send(p, { method, body: method === "DELETE" ? undefined : "x=1" });
    expect((await send(p)).header("x-cache")).toBe("MISS");
  });

  it("an unsuccessful one does not (an attacker cannot flush pages with a 405)", async () => {
    const p = uniquePath();
    await script(p, { status: 200, body: "page" });
    await send(p);
    await script(p, { status: 405, body: "no" }, { status: 200, body: "page" });
    await send(p, { method: "POST", body: "x" });
    expect((await send(p)).header("x-cache")).toBe("HIT");
  });

  it("same-origin Location and Content-Location are invalidated, other sites are not", async () => {
    const form = uniquePath();
    const target = uniquePath();
    const other = uniquePath();
    await send(target);
    await send(other);
    await script(form, { status: 303, headers: { location: target, "content-location": `https://elsewhere.example${other}` }, body: "" });
    await send(form, { method: "POST", body: "x" });
    expect((await send(target)).header("x-cache")).toBe("MISS");
    expect((await send(other)).header("x-cache")).toBe("HIT");
  });

  it("invalidates every Vary variant of the URI", async () => {
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60", vary: "X-Device" } });
    await send(p, { headers: { "x-device": "a" } }, device);
    await send(p, { headers: { "x-device": "b" } }, device);
    await send(p, { method: "POST", body: "x" }, device);
    expect((await send(p, { headers: { "x-device": "a" } }, device)).header("x-cache")).toBe("MISS");
    expect((await send(p, { headers: { "x-device": "b" } }, device)).header("x-cache")).toBe("MISS");
  });
});

describe("clients cannot force origin traffic (§5.2.1)", () => {
  it.each([
    ["Cache-Control: no-cache", { "cache-control": "no-cache" } as Record<string, string>, "MISS"],
    ["Cache-Control: max-age=0", { "cache-control": "max-age=0" } as Record<string, string>, "HIT"],
    ["Pragma: no-cache", { pragma: "no-cache" } as Record<string, string>, "MISS"],
  ])("%s is ignored by default; with honorClientNoCache -> %s", async (_n, headers, honoured) => {
    const p = uniquePath();
    await send(p);
    expect((await send(p, { headers })).header("x-cache")).toBe("HIT");
    const honour = withConfig({ honorClientNoCache: true });
    await send(p, {}, honour);
    const r = await send(p, { headers }, honour);
    expect(r.header("x-cache")).toBe(honoured);
  });
});

describe("stale-while-revalidate (RFC 5861 §3)", () => {
  it("serves the stale entry at once and refreshes it in the background", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "max-age=10, stale-while-revalidate=60" }, body: "v1" },
      { headers: { "cache-control": "max-age=10, stale-while-revalidate=60" }, body: "v2" });
    await w.send(p);
    w.advance(15);
    const stale = await w.send(p);
    expect(stale.body).toBe("v1");
    expect(stale.header("x-cache")).toBe("HIT");
    expect(stale.header("cache-status")).toContain("detail=stale-while-revalidate");
    expect(stale.header("cache-status")).toContain("ttl=-5");
    const fresh = await w.send(p);
    expect(fresh.body).toBe("v2");
    expect(fresh.header("cache-status")).toMatch(/hit; ttl=10/);
    expect(await originLog(p)).toHaveLength(2);
  });

  it("past the window it waits for the origin", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=10, stale-while-revalidate=5" }, body: "v1" }, { body: "v2", headers: { "cache-control": "max-age=10" } });
    await w.send(p);
    w.advance(20);
    const r = await w.send(p);
    expect(r.body).toBe("v2");
    expect(r.header("x-cache")).toBe("MISS");
  });
});

describe("stale-if-error (RFC 5861 §4) and the default grace window", () => {
  it.each([
    ["the origin answers 503", { status: 503, body: "down" }, 503],
    ["the origin answers 500", { status: 500, body: "boom" }, 500],
    ["the origin resets the connection", { reset: "headers" as const }, undefined],
    ["the origin resets mid-body", { reset: "mid-body" as const, body: "z".repeat(5000), headers: { "cache-control": "max-age=10" } }, undefined],
  ])("serves the stale entry when %s", async (_n, failure, fwdStatus) => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=10" }, body: "good page" }, failure);
    await w.send(p);
    w.advance(60);
    const r = await w.send(p);
    expect(r.status).toBe(200);
    expect(r.body).toBe("good page");
    expect(r.header("cache-status")).toContain("fwd=stale");
    if (fwdStatus) expect(r.header("cache-status")).toContain(`fwd-status=${fwdStatus}`);
    expect(r.header("warning")).toContain("111");
  });

  it("serves stale when the origin times out", async () => {
    const w = clockedWorker({ originTimeoutMs: 200 });
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=10" }, body: "good page" }, { delayMs: 1000 });
    await w.send(p);
    w.advance(60);
    const r = await w.send(p);
    expect(r.body).toBe("good page");
  });

  it("with nothing stored, a failing origin gives a clean 502 that is not stored", async () => {
    const p = uniquePath();
    await script(p, { reset: "headers" }, { body: "back" });
    const r = await send(p);
    expect(r.status).toBe(502);
    expect(r.header("cache-control")).toBe("no-store");
    expect((await send(p)).body).toBe("back");
  });

  it("the origin's own stale-if-error bounds the window", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=10, stale-if-error=30" }, body: "good" }, { status: 503 });
    await w.send(p);
    w.advance(45); // stale for 35 s: past the origin's 30 s
    expect((await w.send(p)).status).toBe(503);
  });

  it("§5.2.2.2 must-revalidate forbids serving stale: 504 when the origin is unreachable", async () => {
    const w = clockedWorker();
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=10, must-revalidate" }, body: "good" }, { reset: "headers" });
    await w.send(p);
    w.advance(20);
    expect((await w.send(p)).status).toBe(504);
  });

  it("a purged entry is not served even as a stale fallback", async () => {
    const w = clockedWorker({ tagCheckMemoMs: 0 });
    const p = uniquePath();
    const tag = `sie_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-control": "max-age=10", "cache-tag": tag }, body: "retracted" }, { status: 503 });
    await w.send(p);
    await send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${testEnv.PURGE_TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    await purgesPublished(); // purged through another runtime: this one learns it from KV
    w.advance(60);
    expect((await w.send(p)).status).toBe(503);
  });
});

describe("request coalescing", () => {
  it("N concurrent misses make one origin request", async () => {
    const p = uniquePath();
    await script(p, { delayMs: 300, headers: { "cache-control": "max-age=60" }, body: "shared" });
    const results = await Promise.all(Array.from({ length: 10 }, () => send(p)));
    expect(results.map((r) => r.body)).toEqual(results.map(() => "shared"));
    expect(await originLog(p)).toHaveLength(1);
    expect(results.filter((r) => (r.header("cache-status") ?? "").includes("coalesced")).length).toBe(9);
  });

  it("private answers are never shared with waiters: each goes to the origin", async () => {
    const p = uniquePath();
    await script(p, { delayMs: 200, headers: { "set-cookie": "csrftoken=one" }, body: "private" });
    const results = await Promise.all(Array.from({ length: 4 }, () => send(p)));
    expect(await originLog(p)).toHaveLength(4);
    expect(results.every((r) => r.header("set-cookie") === "csrftoken=one")).toBe(true);
  });

  it("nothing leaks when the leader's origin request fails", async () => {
    const p = uniquePath();
    await script(p, { delayMs: 200, reset: "headers" }, { body: "ok now" });
    const results = await Promise.all(Array.from({ length: 3 }, () => send(p)));
    expect(results[0]?.status).toBe(502);
    expect(results.slice(1).every((r) => r.status === 200 || r.status === 502)).toBe(true);
    expect((await send(p)).status).toBe(200);
  });
});

describe("origins: primary, fallback, health", () => {
  it("falls over to the next origin when the primary cannot be reached, and remembers", async () => {
    const p = uniquePath();
    const env = withConfig({ origins: ["http://127.0.0.1:9", testEnv.ORIGIN_URL], originCooldownMs: 60_000 });
    expect((await send(p, {}, env)).status).toBe(200);
    expect((await send(`${p}/2`, {}, env)).status).toBe(200);
    expect(await originLog(p)).toHaveLength(2);
  });

  it("a 5xx from the primary tries the fallback for GET", async () => {
    const p = uniquePath();
    const primary = `${testEnv.ORIGIN_URL}/primary`;
    const fallback = `${testEnv.ORIGIN_URL}/fallback`;
    await script(`/primary${p}`, { status: 503 });
    await script(`/fallback${p}`, { body: "from fallback" });
    const r = await send(p, {}, withConfig({ origins: [primary, fallback] }));
    expect(r.body).toBe("from fallback");
  });

  it("never retries a POST on another origin", async () => {
    const p = uniquePath();
    await script(`/primary${p}`, { status: 503 });
    const env = withConfig({ origins: [`${testEnv.ORIGIN_URL}/primary`, `${testEnv.ORIGIN_URL}/fallback`] });
    expect((await send(p, { method: "POST", body: "order=1" }, env)).status).toBe(503);
    expect(await originLog(`/fallback${p}`)).toHaveLength(0);
  });
});

describe("coalescing and Vary", () => {
  it("a waiter never gets the leader's fill for another keyed cookie value", async () => {
    const p = uniquePath();
    const env = withConfig({ keyCookies: ["cart"] });
    await script(p,
      { delayMs: 300, headers: { "cache-control": "max-age=60", vary: "Cookie" }, body: "cart of alice" },
      { headers: { "cache-control": "max-age=60", vary: "Cookie" }, body: "anonymous page" });
    const [alice, anon] = await Promise.all([
      send(p, { headers: { cookie: "cart=alice" } }, env),
      new Promise((r) => setTimeout(r, 50)).then(() => send(p, {}, env)),
    ]);
    expect(alice.body).toBe("cart of alice");
    expect(anon.body).toBe("anonymous page");
  });

  it("a waiter never gets the fill of a cookie that is not keyed either: that cookie never reaches the origin", async () => {
    const p = uniquePath();
    await script(p, { delayMs: 300, headers: { "cache-control": "max-age=60", vary: "Cookie" }, body: "one page for all" });
    const [a, b] = await Promise.all([
      send(p, { headers: { cookie: "cart=alice" } }),
      new Promise((r) => setTimeout(r, 50)).then(() => send(p)),
    ]);
    expect([a.body, b.body]).toEqual(["one page for all", "one page for all"]);
    expect((await originLog(p)).map((r) => r.headers.cookie)).toEqual([undefined]);
  });
});
