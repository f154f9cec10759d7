import { describe, expect, it } from "vitest";
import { DEFAULT_RULES } from "./defaults.ts";
import { freshnessLifetime, matchRule, storeDecision, targetedCacheControl, varyFields } from "./policy.ts";
import { parseCacheControl } from "./http/cache-control.ts";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const rule = (path: string) => matchRule(path, DEFAULT_RULES);

describe("matchRule (default policy)", () => {
  it.each([
    ["/static/app.css", "static"],
    ["/static/", "static"],
    ["/media/x.jpg", "media"],
    ["/api/posts/", "api"],
    ["/admin/", "admin"],
    ["/admin", "admin"],
    ["/admin/login/", "admin"],
    ["/health", "health"],
    ["/healthz", "health"],
    ["/", "html"],
    ["/blog/x/", "html"],
    ["/staticfoo", "html"],
    ["/administrator", "html"],
  ])("%s -> %s", (path, name) => {
    expect(rule(path)?.name).toBe(name);
  });
});

describe("storeDecision", () => {
  const decide = (status: number, headers: Record<string, string>, path = "/", extra: Partial<Parameters<typeof storeDecision>[0]> = {}) =>
    storeDecision({ status, headers: new Headers(headers), rule: rule(path), negativeTtl: 60, now: NOW, ...extra });

  it.each([
    // status, response headers, path, store?, ttl or reason, client Cache-Control
    [200, {}, "/", true, 1800, "public, max-age=300, s-maxage=1800"],
    [200, {}, "/api/posts/", true, 600, "public, max-age=300, s-maxage=600"],
    [200, { "content-type": "text/css" }, "/static/app.css", true, 31536000, "public, max-age=31536000, immutable"],
    [200, { "content-type": "image/jpeg" }, "/media/x.jpg", true, 86400, "public, max-age=86400"],
    // Static rules require a static-looking response (cache deception).
    [200, { "content-type": "text/html" }, "/static/account.css", false, "content-type", null],
    [200, {}, "/static/x.css", false, "content-type", null],
    // Origin explicit headers win over a "fill" rule.
    [200, { "cache-control": "max-age=60" }, "/", true, 60, "max-age=60"],
    [200, { "cache-control": "s-maxage=120, max-age=10" }, "/", true, 120, "s-maxage=120, max-age=10"],
    [200, { "cache-control": "public" }, "/", true, 1800, "public"],
    [200, { "cache-control": "max-age=0" }, "/", false, "stale", "max-age=0"],
    [200, { "cache-control": "max-age=100", age: "40" }, "/", true, 60, "max-age=100"],
    [200, { "cache-control": "max-age=100", age: "400" }, "/", false, "stale", "max-age=100"],
    [200, { expires: new Date(NOW + 90_000).toUTCString(), date: new Date(NOW).toUTCString() }, "/", true, 90, null],
    [200, { expires: "0" }, "/", false, "stale", null],
    // Never shared: private, no-store, Set-Cookie (not even when a rule would fill in).
    [200, { "cache-control": "private" }, "/", false, "private", "private"],
    [200, { "cache-control": "no-store" }, "/", false, "no-store", "no-store"],
    [200, { "cache-control": "private, max-age=600" }, "/", false, "private", "private, max-age=600"],
    [200, { "set-cookie": "csrftoken=abc" }, "/", false, "set-cookie", "private"],
    [200, { "set-cookie": "a=b", "cache-control": "public, max-age=60" }, "/", false, "set-cookie", "public, max-age=60"],
    [200, { "cache-control": "no-cache" }, "/", false, "no-cache", "no-cache"],
    // RFC 9111 §4.1: Vary "*" never matches; other Vary fields are folded into variant keys.
    [200, { vary: "Accept-Encoding" }, "/", true, 1800, "public, max-age=300, s-maxage=1800"],
    [200, { vary: "Cookie" }, "/", true, 1800, "public, max-age=300, s-maxage=1800"],
    [200, { vary: "*" }, "/", false, "vary", null],
    [200, { vary: "Accept-Encoding, *" }, "/", false, "vary", null],
    // RFC 9111 §5.2.2.4: no-cache is stored only when it can be revalidated, and always revalidated.
    [200, { "cache-control": "no-cache", etag: '"v1"' }, "/", true, 0, "no-cache"],
    [200, { "cache-control": "max-age=0, must-revalidate", etag: '"v1"' }, "/", true, 0, "max-age=0, must-revalidate"],
    // RFC 5861: stale-while-revalidate / stale-if-error keep an expired response usable.
    [200, { "cache-control": "max-age=0, stale-while-revalidate=30" }, "/", true, 0, "max-age=0, stale-while-revalidate=30"],
    // RFC 9213: targeted fields win over Cache-Control and Expires.
    [200, { "cdn-cache-control": "max-age=77", "cache-control": "no-store" }, "/", true, 77, "no-store"],
    [200, { "cloudflare-cdn-cache-control": "max-age=5", "cdn-cache-control": "max-age=77" }, "/", true, 5, null],
    [200, { "cdn-cache-control": "private", "cache-control": "max-age=600" }, "/", false, "private", "max-age=600"],
    [200, { "cdn-cache-control": "max-age=9", expires: "0" }, "/", true, 9, null],
    // Status codes.
    [404, {}, "/", true, 60, "public, max-age=60"],
    [410, {}, "/", true, 60, "public, max-age=60"],
    [404, { "cache-control": "max-age=3600" }, "/", true, 60, "max-age=3600"],
    [404, { "cache-control": "max-age=10" }, "/", true, 10, "max-age=10"],
    [301, {}, "/", true, 1800, "public, max-age=300, s-maxage=1800"],
    [302, {}, "/", false, "no-freshness", null],
    [302, { "cache-control": "max-age=30" }, "/", true, 30, "max-age=30"],
    [500, {}, "/", false, "status", null],
    [502, { "cache-control": "max-age=600" }, "/", false, "status", "max-age=600"],
    [503, {}, "/", false, "status", null],
    [206, { "cache-control": "max-age=600" }, "/", false, "status", "max-age=600"],
    [400, {}, "/", false, "status", null],
    [403, {}, "/", false, "status", null],
    [304, {}, "/", false, "status", null],
  ] as const)("%i %j on %s", (status, headers, path, store, ttlOrReason, cc) => {
    const d = decide(status, headers, path);
    expect(d.store).toBe(store);
    if (d.store) expect(d.ttl).toBe(ttlOrReason);
    else expect(d.reason).toBe(ttlOrReason);
    expect(d.cacheControl).toBe(cc);
  });

  it("override rules replace the origin's lifetime but never private/no-store/Set-Cookie", () => {
    const override = { ...DEFAULT_RULES.find((r) => r.name === "html")!, mode: "override" as const };
    const d = (h: Record<string, string>) => decide(200, h, "/", { rule: override });
    expect(d({ "cache-control": "max-age=5" })).toMatchObject({ store: true, ttl: 1800 });
    expect(d({ "cache-control": "no-cache" })).toMatchObject({ store: true, ttl: 1800 });
    expect(d({ "cache-control": "private" })).toMatchObject({ store: false, reason: "private" });
    expect(d({ "cache-control": "no-store" })).toMatchObject({ store: false, reason: "no-store" });
    expect(d({ "set-cookie": "a=b" })).toMatchObject({ store: false, reason: "set-cookie" });
  });

  it("with no rule, only explicit origin freshness stores", () => {
    expect(decide(200, {}, "/", { rule: undefined })).toMatchObject({ store: false, reason: "no-freshness" });
    expect(decide(200, { "cache-control": "max-age=9" }, "/", { rule: undefined })).toMatchObject({ store: true, ttl: 9 });
  });


  it("strictness and grace windows (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.10; RFC 5861)", () => {
    const g = (h: Record<string, string>) => decide(200, h, "/", { defaultSie: 86400, defaultSwr: 0 });
    expect(g({ "cache-control": "max-age=60" })).toMatchObject({ strict: false, sie: 86400, swr: 0 });
    expect(g({ "cache-control": "max-age=60, must-revalidate" })).toMatchObject({ strict: true, sie: 0, swr: 0 });
    expect(g({ "cache-control": "max-age=60, proxy-revalidate" })).toMatchObject({ strict: true });
    // s-maxage implies proxy-revalidate for a shared cache, unless the origin grants stale use explicitly.
    expect(g({ "cache-control": "s-maxage=60" })).toMatchObject({ strict: true, sie: 0 });
    expect(g({ "cache-control": "s-maxage=60, stale-if-error=300, stale-while-revalidate=10" })).toMatchObject({ strict: false, sie: 300, swr: 10 });
    // ... and then only its own windows: no default grace next to s-maxage.
    expect(g({ "cache-control": "s-maxage=60, stale-while-revalidate=10" })).toMatchObject({ strict: false, sie: 0, swr: 10 });
    expect(g({ "cache-control": "s-maxage=60, stale-if-error=300, must-revalidate" })).toMatchObject({ strict: true });
    // The operator's rules are not origin directives: defaults apply.
    expect(g({})).toMatchObject({ source: "rule", strict: false, sie: 86400 });
  });
});

describe("freshnessLifetime (RFC 9111 §4.2.1)", () => {
  const f = (h: Record<string, string>) => freshnessLifetime(new Headers(h), parseCacheControl(h["cache-control"]), NOW);
  it.each([
    [{}, undefined],
    [{ "cache-control": "s-maxage=5, max-age=9" }, 5],
    [{ "cache-control": "max-age=9", expires: "Thu, 01 Jan 2099 00:00:00 GMT" }, 9],
    [{ "cache-control": "max-age=abc" }, 0],
    [{ "cache-control": "max-age=99999999999" }, 2147483648],
    [{ expires: "not a date" }, 0],
    [{ expires: new Date(NOW + 30_000).toUTCString() }, 30],
  ] as const)("%j -> %s", (h, expected) => {
    expect(f(h)).toBe(expected);
  });
});

describe("targeted fields and Vary parsing", () => {
  it("RFC 9213: an invalid targeted field falls back to Cache-Control", () => {
    expect(targetedCacheControl(new Headers({ "cdn-cache-control": ",,,", "cache-control": "max-age=3" })).targeted).toBe(false);
    expect(targetedCacheControl(new Headers({ "cdn-cache-control": "max-age=3" })).targeted).toBe(true);
  });
  it.each([
    [null, []],
    ["", []],
    ["Accept-Encoding", ["accept-encoding"]],
    ["accept-encoding, , Cookie", ["accept-encoding", "cookie"]],
    ["*", ["*"]],
  ])("varyFields(%s)", (vary, fields) => {
    expect(varyFields(vary)).toEqual(fields);
  });
});
