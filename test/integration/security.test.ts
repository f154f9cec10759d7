/**
 * Attacks on a shared cache, one test (or table) per class. Each test is written so that a naive
 * caching proxy (forward every header, key on the raw URL, store what looks cacheable) fails it.
 * "Users" are requests with different credentials: user A is the victim, user B the attacker
 * (or just the next visitor); B must never receive A's page.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env.ts";
import worker from "../../src/index.ts";
import { MAX_PURGE_BODY_BYTES } from "../../src/purge/api.ts";
import { originLog, script, send, SITE, testEnv, uniquePath, withConfig } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;
const id = () => crypto.randomUUID().slice(0, 12);
/** A fresh app (new runtime, limiter, bindings read anew). */
const fresh = (extra: Partial<Env> = {}): Partial<Env> => ({ CACHE_VERSION: `s-${crypto.randomUUID()}`, ...extra });
const debug = withConfig({ debugHeaders: true });

/** The path and query a response was keyed on (from X-Edge-Key: <origin>/__ec/<dims><path>?<query>). */
function keyedTarget(edgeKey: string | null): string {
  expect(edgeKey).not.toBeNull();
  const afterPrefix = edgeKey!.slice(edgeKey!.indexOf("/__ec/") + "/__ec/".length);
  return afterPrefix.slice(afterPrefix.indexOf("/"));
}

/** An origin binding double that records what it was asked (the test origin cannot log requests it rejects). */
function recordingOrigin() {
  const seen: Request[] = [];
  const fetcher = { fetch: async (req: Request) => { seen.push(req); return new Response("from origin", { headers: { "content-type": "text/plain" } }); } };
  // ORIGIN_URL empty: the service binding is the origin (a set ORIGIN_URL wins over it).
  return { seen, env: fresh({ ORIGIN: fetcher as unknown as Fetcher, ORIGIN_URL: "" }) };
}

// ---- cache poisoning through unkeyed headers ------------------------------------------------------

describe("cache poisoning via unkeyed headers", () => {
  it("X-Forwarded-Host / -Proto / -For / Forwarded and Host are replaced by our own values, and the page is shared unpoisoned", async () => {
    const p = uniquePath();
    const poisoned = await send(p, {
      headers: {
        host: "evil.example", "x-forwarded-host": "evil.example", "x-forwarded-proto": "http", "x-forwarded-for": "6.6.6.6",
        forwarded: "for=6.6.6.6;host=evil.example;proto=http", "cf-connecting-ip": "203.0.113.7",
      },
    }, debug);
    expect(poisoned.header("x-cache")).toBe("MISS");
    expect(poisoned.header("x-edge-key")).toContain("https://www.example.com/");
    const [seen] = await originLog(p);
    expect(seen?.headers["x-forwarded-host"]).toBe("www.example.com");
    expect(seen?.headers["x-forwarded-proto"]).toBe("https");
    expect(seen?.headers["x-forwarded-for"]).toBeUndefined(); // a fill carries no client's address
    expect(seen?.headers.forwarded).toBeUndefined();
    expect(seen?.headers.host).not.toBe("evil.example");
    const clean = await send(p, {}, debug);
    expect(clean.header("x-cache")).toBe("HIT");
    expect(clean.body).toBe(poisoned.body);
  });
});

describe("pending: poisoning headers never reach the origin on cacheable requests", () => {
  const headers: [string, string][] = [
    ["x-host", "evil.example"],
    ["x-forwarded-server", "evil.example"],
    ["x-forwarded-scheme", "http"],
    ["x-original-url", "/admin/"],
    ["x-rewrite-url", "/admin/"],
    ["x-http-method-override", "DELETE"],
  ];

  it.each(headers)("%s is not forwarded, and a clean request then gets the same cached page", async (name, value) => {
    const p = uniquePath();
    const poisoned = await send(p, { headers: { [name]: value } });
    expect(poisoned.header("x-cache")).toBe("MISS");
    const [seen] = await originLog(p);
    expect(seen?.headers[name]).toBeUndefined();
    const clean = await send(p);
    expect(clean.header("x-cache")).toBe("HIT");
    expect(clean.body).toBe(poisoned.body);
    expect(await originLog(p)).toHaveLength(1);
  });

  it("all of them at once, plus the ones above: the origin receives none", async () => {
    const p = uniquePath();
    const all = Object.fromEntries([...headers, ["x-forwarded-host", "evil.example"], ["x-original-host", "evil.example"], ["x-forwarded-port", "1337"], ["x-forwarded-prefix", "/evil"]]);
    await send(p, { headers: all });
    const [seen] = await originLog(p);
    for (const name of Object.keys(all)) {
      if (name === "x-forwarded-host") expect(seen?.headers[name]).toBe("www.example.com");
      else expect(seen?.headers[name], name).toBeUndefined();
    }
  });
});

describe("language", () => {
  const cfg = withConfig({ languages: ["en", "fr"] });

  it("a language-keyed page: each folded language is its own entry, and the origin gets the folded value", async () => {
    const p = uniquePath();
    await script(p, { body: "fr page" }, { body: "en page" });
    expect((await send(p, { headers: { "accept-language": "fr-CA, <script>" } }, cfg)).body).toBe("fr page");
    const en = await send(p, { headers: { "accept-language": "en-GB" } }, cfg);
    expect(en.body).toBe("en page");
    expect((await originLog(p)).map((r) => r.headers["accept-language"])).toEqual(["fr", "en"]);
  });

  // Rules with `language: false` (static, media) leave the language out of the key, and so out of
  // the origin request: the origin cannot choose a language the key does not hold.
  it("under a rule without language keys the origin is never told a language, so one answer is right for all", async () => {
    const path = `/static/${id()}/app.js`;
    const headers = { "content-type": "text/javascript", vary: "Accept-Language" };
    await script(path, { headers, body: "alert('default')" }, { headers, body: "alert('second fetch')" });
    expect((await send(path, { headers: { "accept-language": "fr" } }, cfg)).body).toBe("alert('default')");
    const en = await send(path, { headers: { "accept-language": "en" } }, cfg);
    expect(en.header("x-cache")).toBe("HIT");
    expect(en.body).toBe("alert('default')");
    expect((await originLog(path)).map((r) => r.headers["accept-language"])).toEqual([undefined]);
  });
});

// ---- parameter cloaking --------------------------------------------------------------------------

describe("parameter cloaking", () => {
  // [first, second, share an entry?]: two URLs share an entry only when the origin is asked the same thing.
  const pairs: [string, string, string, boolean][] = [
    ["';' is not a separator", "?a=1;b=2", "?a=1", false],
    ["';' cannot hide a parameter behind utm_", "?utm_source=x;admin=1", "?admin=1", false],
    ["duplicate parameters keep their order", "?id=1&id=2", "?id=2&id=1", false],
    ["a repeated parameter is not the single one", "?a=1&a=1", "?a=1", false],
    ["an encoded & is a value, not a separator", "?q=a%26b%3D1", "?q=a&b=1", false],
    ["an encoded ? is part of the path", "%3Fa=1", "?a=1", false],
    ["an encoded # is part of the value", "?q=a%23b", "?q=a", false],
    ["a utm_ value cannot smuggle a parameter", "?utm_source=x%26admin%3D1", "?utm_source=x&admin=1", false],
    ["names are case-sensitive", "?A=1", "?a=1", false],
    ["+ and %20 are the same space", "?q=a+b", "?q=a%20b", true],
    ["an encoded name is the same name", "?%61=1", "?a=1", true],
    ["a fragment never reaches anyone", "?q=a#frag", "?q=a", true],
    ["order and tracking parameters", "?b=2&utm_source=x&a=1&gclid=y", "?a=1&b=2", true],
    ["two invalid UTF-8 escapes both decode to U+FFFD", "?q=%FF", "?q=%FE", true],
  ];

  it.each(pairs)("%s: %s vs %s", async (_n, first, second, share) => {
    const p = uniquePath();
    const a = await send(`${p}${first}`, {}, debug);
    const b = await send(`${p}${second}`, {}, debug);
    expect(a.header("x-cache")).toBe("MISS");
    expect(b.header("x-cache")).toBe(share ? "HIT" : "MISS");
    const seen = (await originLog(p)).map((r) => r.path);
    // The origin received exactly what was keyed, nothing more and nothing less.
    expect(seen[0]).toBe(keyedTarget(a.header("x-edge-key")));
    if (share) {
      expect(seen).toHaveLength(1);
      expect(b.body).toBe(a.body);
    } else {
      expect(seen).toHaveLength(2);
      expect(seen[1]).toBe(keyedTarget(b.header("x-edge-key")));
      expect(seen[1]).not.toBe(seen[0]);
    }
  });

  it("what the origin receives for cloaked queries is the normalised form", async () => {
    const p = uniquePath();
    await send(`${p}?a=1;utm_source=x`);
    await send(`${p}?utm_source=x%26admin%3D1&z=1`);
    await send(`${p}?q=a%26b%3D1`);
    expect((await originLog(p)).map((r) => r.path)).toEqual([`${p}?a=1%3Butm_source%3Dx`, `${p}?z=1`, `${p}?q=a%26b%3D1`]);
  });
});

// ---- fat GET ---------------------------------------------------------------------------------------

describe("fat GET", () => {
  it("workerd refuses to build a GET with a body (so a client's cannot be replayed directly)", () => {
    expect(() => new Request(`${SITE}/x`, { method: "GET", body: "evil=1" })).toThrow(TypeError);
  });

  // The runtime could still hand the worker a GET whose body stream is set (a client sending
  // Content-Length on a GET). Model that with a GET whose `body` is a stream, and check nothing of
  // it reaches the origin, cacheable or bypassed.
  it.each([
    ["cacheable", {}],
    ["bypassed (session)", { cookie: "sessionid=s1" }],
  ] as const)("a GET body never reaches the origin (%s)", async (_n, extra) => {
    const p = uniquePath();
    const req = new Request(`${SITE}${p}`, {
      method: "GET",
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": "6", ...extra },
    });
    Object.defineProperty(req, "body", { value: new Blob(["evil=1"]).stream() });
    expect(req.body).not.toBeNull();
    const ctx = createExecutionContext();
    const res = await worker.fetch(req, testEnv, ctx);
    await res.text();
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    const [seen] = await originLog(p);
    expect(seen?.method).toBe("GET");
    expect(seen?.body).toBe("");
    expect(seen?.headers["content-length"] ?? "0").toBe("0");
  });
});

// ---- web cache deception ---------------------------------------------------------------------------

describe("cache deception: user B never gets user A's page", () => {
  const A = { cookie: "sessionid=user-a-session" };

  it.each([
    ["/static/../", (acct: string) => `/static/..${acct}`],
    ["/static/%2e%2e/", (acct: string) => `/static/%2e%2e${acct}`],
    ["/static/%2E%2E/ (upper case)", (acct: string) => `/static/%2E%2E${acct}`],
    ["a .css suffix on the account page", (acct: string) => `${acct}settings/x.css`],
  ])("%s: A's session page is not stored; B gets the anonymous page", async (_n, url) => {
    const acct = `/account-${id()}/`;
    const target = url(acct);
    // The URL parser resolves "..", "%2e%2e" and "%2E%2E" segments before the worker sees the path.
    const resolved = new URL(`${SITE}${target}`).pathname;
    await script(resolved,
      { headers: { "content-type": "text/html" }, body: "A's account: balance 1,000,000" },
      { headers: { "content-type": "text/html" }, body: "please log in" });
    const victim = await send(target, { headers: A });
    expect(victim.header("x-cache")).toBe("BYPASS");
    expect(victim.body).toContain("A's account");
    const attacker = await send(target);
    expect(attacker.body).toBe("please log in");
    const again = await send(target);
    expect(again.body).toBe("please log in");
    expect(again.header("x-cache")).toBe("HIT");
  });

  it("the dot segments are resolved before the rule is chosen: /static/%2e%2e/x is not a static asset", async () => {
    const acct = `/account-${id()}/`;
    const r = await send(`/static/%2e%2e${acct}`, {}, debug);
    expect(r.header("cache-status")).toContain("detail=html");
    expect(keyedTarget(r.header("x-edge-key"))).toBe(acct);
  });

  it("//static/x.css is the same entry as /static/x.css, and a page under it that is not static is never stored", async () => {
    const path = `/static/${id()}/x.css`;
    await script(path, { headers: { "content-type": "text/html" }, body: "an account page" });
    const a = await send(`/${path}`);
    expect(a.header("cache-status")).toContain("detail=content-type");
    const b = await send(path);
    expect(b.header("x-cache")).toBe("MISS");
    expect((await originLog(path)).map((r) => r.path)).toEqual([path, path]);
  });

  it("an encoded slash makes the path ambiguous: passed to the origin, never stored", async () => {
    const path = `/static/${id()}/..%2Faccount/`;
    await script(path, { headers: { "content-type": "text/css", "cache-control": "public, max-age=600" }, body: "an account page" });
    const a = await send(path, {}, debug);
    expect(keyedTarget(a.header("x-edge-key"))).toBe(path);
    expect(a.header("x-cache")).toBe("BYPASS");
    expect(a.header("cache-status")).toContain("detail=ambiguous-path");
    expect((await send(path)).header("x-cache")).toBe("BYPASS");
    expect(await originLog(path)).toHaveLength(2);
  });

  it("even under a static-like override rule, Set-Cookie and private answers are never shared", async () => {
    const env = withConfig({
      rules: [
        { name: "assets", paths: ["/assets/*"], cacheControl: "public, max-age=31536000, immutable", mode: "override", contentTypes: ["text/css", "text/html"] },
        { name: "html", paths: ["*"], cacheControl: "public, max-age=300" },
      ],
    });
    const personal: Record<string, string>[] = [{ "set-cookie": "csrftoken=A; Path=/" }, { "cache-control": "private, max-age=600" }, { "cache-control": "no-store" }];
    for (const headers of personal) {
      const path = `/assets/${id()}/settings/x.css`;
      await script(path,
        { headers: { "content-type": "text/css", ...headers }, body: "A's page" },
        { headers: { "content-type": "text/css" }, body: "B's page" });
      expect((await send(path, {}, env)).body).toBe("A's page");
      const b = await send(path, {}, env);
      expect(b.body).toBe("B's page");
      expect(b.header("x-cache")).toBe("MISS");
    }
  });

  it("a session request is never stored even when the origin says public, and never served what B cached", async () => {
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "public, max-age=600" }, body: "anonymous page" },
      { headers: { "cache-control": "public, max-age=600" }, body: "A's personal page" },
      { headers: { "cache-control": "public, max-age=600" }, body: "never asked" });
    expect((await send(p)).body).toBe("anonymous page"); // B fills the entry
    const a = await send(p, { headers: A });
    expect(a.header("x-cache")).toBe("BYPASS");
    expect(a.body).toBe("A's personal page"); // A is not served B's cached page...
    const b = await send(p);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.body).toBe("anonymous page"); // ...and B is not served A's
  });

  it("an Authorization request's answer is not stored unless the origin marks it shareable", async () => {
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "max-age=600" }, body: "A's API data" },
      { body: "public data" });
    const a = await send(p, { headers: { authorization: "Bearer user-a" } });
    expect(a.header("x-cache")).toBe("BYPASS");
    expect(a.body).toBe("A's API data");
    const b = await send(p);
    expect(b.body).toBe("public data");
  });

  it("a page cannot be personalised on a non-session cookie: the cookie never reaches the origin on a cacheable request", async () => {
    const p = uniquePath();
    await script(p,
      { headers: { "cache-control": "public, max-age=600", vary: "Cookie" }, body: "the page" },
      { headers: { "cache-control": "public, max-age=600", vary: "Cookie" }, body: "fetched again" });
    expect((await send(p, { headers: { cookie: "theme=dark; csrftoken=AAAA" } })).body).toBe("the page");
    const b = await send(p, { headers: { cookie: "theme=dark; csrftoken=BBBB" } });
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.body).toBe("the page");
    expect((await originLog(p)).map((r) => r.headers.cookie)).toEqual([undefined]);
  });
});

// ---- error pages caused by the request -------------------------------------------------------------

describe("a 4xx caused by one request's headers is not cached for others", () => {
  it.each([400, 405, 413, 414, 431])("%i from the origin, even with public caching headers, is not stored", async (status) => {
    const p = uniquePath();
    await script(p,
      { status, headers: { "cache-control": "public, max-age=600" }, body: "Request Header Or Cookie Too Large" },
      { body: "the real page" });
    const attacker = await send(p, { headers: { "x-oversized": "a".repeat(6000), "x-http-method-override": "PURGE" } });
    expect(attacker.status).toBe(status);
    expect(attacker.header("cache-status")).not.toContain("stored");
    const victim = await send(p);
    expect(victim.status).toBe(200);
    expect(victim.body).toBe("the real page");
  });

  it("a 404 is cached for at most negativeTtl, whatever the origin says", async () => {
    const p = uniquePath();
    await script(p, { status: 404, headers: { "cache-control": "public, max-age=86400" }, body: "gone" });
    const r = await send(p);
    expect(r.header("cache-status")).toContain("ttl=60");
  });
});

// ---- oversized requests ----------------------------------------------------------------------------

describe("pending: oversized URLs and headers get a clean 4xx without an origin request", () => {
  it.each([
    ["a 17 KB path", () => `/t/${"p".repeat(17 * 1024)}`],
    ["a 17 KB query", () => `/t/q?x=${"q".repeat(17 * 1024)}`],
    ["a 17 KB query of tracking parameters", () => `/t/q?${Array.from({ length: 1600 }, (_, i) => `utm_x${i}=1`).join("&")}`],
  ])("%s: 414 (or 400)", async (_n, url) => {
    const origin = recordingOrigin();
    const r = await send(url(), {}, origin.env);
    expect([400, 414]).toContain(r.status);
    expect(origin.seen).toHaveLength(0);
    expect(r.body).not.toContain("from origin");
  });

  it.each([
    ["one 64 KB header", () => ({ "x-filler": "h".repeat(64 * 1024) })],
    ["a 64 KB cookie", () => ({ cookie: `a=${"c".repeat(64 * 1024)}` })],
    ["200 headers of 400 bytes", () => Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, "v".repeat(400)]))],
  ])("%s: 431 (or 400)", async (_n, headers) => {
    const origin = recordingOrigin();
    const r = await send("/t/h", { headers: headers() }, origin.env);
    expect([400, 431]).toContain(r.status);
    expect(origin.seen).toHaveLength(0);
  });
});

describe("ordinary large requests still work", () => {
  it("a 4 KB URL and 8 KB of headers reach the origin", async () => {
    const origin = recordingOrigin();
    const r1 = await send(`/t/${"u".repeat(4 * 1024)}`, {}, origin.env);
    const r2 = await send("/t/h2", { headers: { "x-filler": "h".repeat(8 * 1024) } }, origin.env);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(origin.seen).toHaveLength(2);
  });
});

// ---- the purge endpoint ----------------------------------------------------------------------------

/** A client address for one request (the failure limiter counts per address). */
const ip = () => `192.0.2.${Math.floor(Math.random() * 250) + 1}`;

describe("purge endpoint", () => {
  async function attempt(authorization: string | null, body = '{"tags":["a"]}', env: Partial<Env> = {}, method = "POST") {
    const headers: Record<string, string> = { "content-type": "application/json", "cf-connecting-ip": ip() };
    if (authorization !== null) headers.authorization = authorization;
    return send("/__edge/purge", { method, headers, body: method === "GET" ? undefined : body }, env);
  }
  const shape = (r: Awaited<ReturnType<typeof attempt>>) => ({
    status: r.status,
    body: r.body,
    headers: [...r.res.headers].filter(([k]) => k !== "date").sort(),
  });

  it("no oracle: every kind of bad credential gets the identical 401", async () => {
    const env = fresh();
    const variants = [
      null, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer wrong-token-0123456789",
      `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.toUpperCase()}`, `Bearer ${TOKEN} extra`,
      `Token ${TOKEN}`, `Bearer${TOKEN}`,
    ];
    const answers = [];
    for (const v of variants) answers.push(shape(await attempt(v, '{"tags":["a"]}', env)));
    expect(answers[0]!.status).toBe(401);
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  it("authentication comes before parsing: a bad token with a malformed or oversized body is the same 401", async () => {
    const env = fresh();
    const wrong = "Bearer wrong-token-0123456789";
    const base = shape(await attempt(wrong, '{"tags":["a"]}', env));
    expect(shape(await attempt(wrong, "{not json", env))).toEqual(base);
    expect(shape(await attempt(wrong, JSON.stringify({ pad: "x".repeat(MAX_PURGE_BODY_BYTES + 1) }), env))).toEqual(base);
    expect(shape(await attempt(wrong, JSON.stringify({ unknown: 1 }), env))).toEqual(base);
  });

  it("secrets never appear in any response, nor in the logs", async () => {
    const CF = "cf-api-token-secret-value-xyz";
    const zone = "0123456789abcdef0123456789abcdef";
    const api = `${testEnv.ORIGIN_URL}/__cfapi/${id()}`;
    await script(`${new URL(api).pathname}/zones/${zone}/purge_cache`, { status: 200, body: '{"success":true}' });
    // LOG_REQUESTS on: the per-request log line is part of what must not leak.
    const env = fresh({ ...withConfig({ zoneId: zone, zonePurgeApi: api, debugHeaders: true }), CF_API_TOKEN: CF, LOG_REQUESTS: "true" });
    const logged: string[] = [];
    for (const level of ["log", "warn", "error", "info", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => { logged.push(args.map(String).join(" ")); });
    }
    try {
      const responses = [
        await attempt(null, undefined, env),
        await attempt(`Bearer ${TOKEN}x`, undefined, env),
        await attempt(`Bearer ${TOKEN}`, "{not json", env),
        await attempt(`Bearer ${TOKEN}`, JSON.stringify({ tags: ["a"], extra: 1 }), env),
        await attempt(`Bearer ${TOKEN}`, JSON.stringify({ tags: ["has space"] }), env),
        await attempt(`Bearer ${TOKEN}`, JSON.stringify({ pad: "x".repeat(MAX_PURGE_BODY_BYTES + 1) }), env),
        await attempt(`Bearer ${TOKEN}`, undefined, env, "GET"),
        await attempt(`Bearer ${TOKEN}`, JSON.stringify({ tags: ["post_1"] }), env),
        await send(`${uniquePath()}/page`, { headers: { authorization: `Bearer ${TOKEN}` } }, env),
        await send(`${uniquePath()}/page`, {}, env),
      ];
      // A page request bearing the purge token is answered 404 by the worker: a token is never forwarded.
      expect(responses.map((r) => r.status)).toEqual([401, 401, 400, 400, 400, 413, 405, 200, 404, 200]);
      for (const r of responses) {
        const text = `${r.body}\n${[...r.res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}`;
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain(CF);
      }
    } finally {
      vi.restoreAllMocks();
    }
    expect(logged.some((l) => l.includes('"event":"request"'))).toBe(true);
    for (const line of logged) {
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain(CF);
    }
  });

  it("a short PURGE_TOKEN is refused at load, naming the variable but not its value", async () => {
    const short = "short-secret-9";
    const err = await send("/", {}, { PURGE_TOKEN: short }).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/PURGE_TOKEN must be at least 16/);
    expect(err?.message).not.toContain(short);
  });

  it.each([
    ["unset", undefined],
    ["empty", ""],
  ])("PURGE_TOKEN %s: 404 for every request, whatever it carries, and nothing reaches the origin", async (_n, value) => {
    const env = fresh({ PURGE_TOKEN: value as string });
    const answers = [
      await attempt(null, undefined, env),
      await attempt(`Bearer ${TOKEN}`, undefined, env),
      await attempt("Bearer anything-at-all-0000", "{not json", env),
      await attempt(null, undefined, env, "GET"),
    ];
    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(a.body).toBe(answers[0]!.body);
      expect(a.body).not.toContain(TOKEN);
    }
    expect(await originLog("/__edge/purge")).toHaveLength(0);
  });
});

describe("explain endpoint", () => {
  const explain = (auth: string | null, env: Partial<Env>, headers: Record<string, string> = {}) => send(
    `/__edge/explain?url=${encodeURIComponent(`${SITE}/t/explained?utm_source=x`)}`,
    { headers: { ...(auth === null ? {} : { authorization: auth }), "cf-connecting-ip": ip(), ...headers } },
    env,
  );

  it("the same 401 for every bad credential, and no cookie value or token in what it shows", async () => {
    const env = fresh();
    const bad = [null, "Basic dXNlcjpwYXNz", "Bearer", "Bearer wrong-token-0123456789", `Bearer ${TOKEN}x`];
    const answers = [];
    for (const auth of bad) {
      const r = await explain(auth, env);
      answers.push({ status: r.status, body: r.body, headers: [...r.res.headers].filter(([k]) => k !== "date").sort() });
    }
    expect(answers[0]!.status).toBe(401);
    for (const a of answers) expect(a).toEqual(answers[0]);
    const ok = await explain(`Bearer ${TOKEN}`, env, { cookie: "sessionid=SESSION-VALUE-123; _ga=GA-VALUE-456; theme=THEME-VALUE-789" });
    expect(ok.status).toBe(200);
    for (const secret of [TOKEN, "SESSION-VALUE-123", "GA-VALUE-456", "THEME-VALUE-789"]) expect(ok.body).not.toContain(secret);
  });

  it("does not exist without EXPLAIN_TOKEN or PURGE_TOKEN", async () => {
    const r = await explain(`Bearer ${TOKEN}`, fresh({ PURGE_TOKEN: "" }));
    expect(r.status).toBe(404);
  });
});

describe("unkeyed headers never reach the origin on cacheable requests (forwardHeaders allow-list)", () => {
  it("an arbitrary header an origin might reflect cannot poison the stored page", async () => {
    const p = uniquePath();
    await send(p, { headers: { "x-evil": "<script>alert(1)</script>", "x-forwarded-prefix": "/evil", "x-debug": "1" } });
    const [seen] = await originLog(p);
    expect(seen?.headers["x-evil"]).toBeUndefined();
    expect(seen?.headers["x-debug"]).toBeUndefined();
    expect(seen?.headers["x-forwarded-prefix"]).toBeUndefined();
  });

  it("bypassed requests still carry the client's own headers (minus the poisoning list)", async () => {
    const p = uniquePath();
    await send(p, { method: "POST", body: "x", headers: { "x-custom": "kept", "x-forwarded-host": "evil.example" } });
    const [seen] = await originLog(p);
    expect(seen?.headers["x-custom"]).toBe("kept");
    expect(seen?.headers["x-forwarded-host"]).toBe("www.example.com");
  });
});
