/**
 * "Forward only what is keyed": each finding of the red-team pass, reproduced against a sloppy
 * origin (test/origin/sloppy.ts) that reflects headers and cookies into `public` pages without
 * Vary and routes like a WSGI server (or a lenient router). Each test fails with its fix reverted.
 */
import { describe, expect, inject, it } from "vitest";
import type { Env } from "../../src/env.ts";
import type { LoggedRequest } from "../origin/protocol.ts";
import { clockedWorker, send, testEnv } from "../helpers.ts";

const WSGI = inject("wsgiOriginUrl");
const LENIENT = inject("lenientOriginUrl");

/** A fresh cache (its own version) in front of one of the sloppy origins. */
function site(origin = WSGI, config: Record<string, unknown> = {}): Partial<Env> {
  return { ORIGIN_URL: origin, CACHE_VERSION: crypto.randomUUID(), EDGE_CONFIG: JSON.stringify(config) };
}

async function seen(origin: string, path: string): Promise<LoggedRequest[]> {
  const all = (await (await fetch(`${origin}/__log`)).json()) as LoggedRequest[];
  return all.filter((r) => r.path.startsWith(path));
}

const q = () => `?t=${crypto.randomUUID().slice(0, 8)}`;

describe("1. cookies the key does not hold never reach the origin on cacheable requests", () => {
  it("a theme cookie and a messages flash cookie cannot be reflected into the shared page", async () => {
    const env = site();
    const path = `/page/${q()}`;
    const attacker = await send(path, { headers: { cookie: "theme=<script>alert(1)</script>; messages=\"you won\"" } }, env);
    expect(attacker.header("x-cache")).toBe("MISS");
    const victim = await send(path, {}, env);
    expect(victim.header("x-cache")).toBe("HIT");
    expect(victim.body).not.toContain("<script>");
    expect(victim.body).not.toContain("you won");
    expect((await seen(WSGI, path)).map((r) => r.headers.cookie)).toEqual([undefined]);
  });

  it("django_language is folded into the language dimension: a German visitor's page never reaches English visitors", async () => {
    const env = site(WSGI, { languages: ["en", "de"] });
    const path = `/page/${q()}`;
    const german = await send(path, { headers: { cookie: "django_language=de", "accept-language": "en-US" } }, env);
    expect(german.body).toContain('lang="de"');
    const english = await send(path, { headers: { "accept-language": "en-US" } }, env);
    expect(english.body).toContain('lang="en"');
    expect(english.header("x-cache")).toBe("MISS");
    // The origin was told the folded language, never the raw cookie.
    expect((await seen(WSGI, path)).map((r) => [r.headers["accept-language"], r.headers.cookie])).toEqual([["de", undefined], ["en", undefined]]);
    // And the explicit choice keeps winning over Accept-Language.
    expect((await send(path, { headers: { cookie: "django_language=de", "accept-language": "en" } }, env)).header("x-cache")).toBe("HIT");
  });

  it("a keyed cookie (keyCookies) is a key dimension, and the only cookie sent", async () => {
    const env = site(WSGI, { keyCookies: ["currency"] });
    const path = `/page/${q()}`;
    await send(path, { headers: { cookie: "currency=eur; theme=dark; sessionid=" } }, env);
    expect((await send(path, { headers: { cookie: "currency=eur" } }, env)).header("x-cache")).toBe("HIT");
    expect((await send(path, { headers: { cookie: "currency=usd" } }, env)).header("x-cache")).toBe("MISS");
    expect((await seen(WSGI, path)).map((r) => r.headers.cookie)).toEqual(["currency=eur", "currency=usd"]);
  });
});

describe("2. client headers the key does not hold never reach the origin on cacheable requests", () => {
  it("User-Agent, Accept, X-Request-ID, Traceparent and Tracestate cannot shape the shared page or its headers", async () => {
    const env = site();
    const path = `/page/${q()}`;
    const evil = {
      "user-agent": "evil-agent<script>", accept: "application/json", "x-request-id": "evil-id",
      traceparent: "00-evil-trace-01", tracestate: "evil=state", "accept-language": "xx",
    };
    await send(path, { headers: evil }, env);
    const victim = await send(path, { headers: { accept: "text/html", "user-agent": "Mozilla/5.0" } }, env);
    expect(victim.header("x-cache")).toBe("HIT");
    expect(victim.header("content-type")).toBe("text/html"); // not the JSON the attacker's Accept asked for
    expect(victim.body).not.toMatch(/evil|<script>/);
    expect(victim.header("x-trace")).toBe("");
    const [fill] = await seen(WSGI, path);
    expect(fill?.headers["user-agent"]).toBe("edge-cache/1 (shared cache fill)");
    expect(fill?.headers.accept).toBe("*/*");
    expect(fill?.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/); // generated per origin fetch
    expect(fill?.headers.traceparent).toBeUndefined();
    expect(fill?.headers.tracestate).toBeUndefined();
    expect(fill?.headers["accept-language"]).toBeUndefined(); // languages not configured: not keyed, not sent
  });

  it("an operator can key a header by class (keyHeaders) or by device (deviceClass)", async () => {
    const env = site(WSGI, {
      keyHeaders: [{ name: "Accept", classes: { "application/json": ["application/json"] }, otherwise: "text/html" }],
      deviceClass: true,
    });
    const path = `/page/${q()}`;
    const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";
    await send(path, { headers: { accept: "application/json, */*", "user-agent": iphone } }, env);
    expect((await send(path, { headers: { accept: "application/json", "user-agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile" } }, env)).header("x-cache")).toBe("HIT");
    expect((await send(path, { headers: { accept: "text/html", "user-agent": iphone } }, env)).header("x-cache")).toBe("MISS");
    const fills = await seen(WSGI, path);
    expect(fills.map((r) => [r.headers.accept, r.headers["cf-device-type"]])).toEqual([["application/json", "mobile"], ["text/html", "mobile"]]);
  });
});

describe("3. Authorization never writes or replaces a shared entry", () => {
  it("an authorized request cannot replace a fresh entry, nor fill one after a POST invalidated it", async () => {
    const env = site();
    const path = `/page/${q()}`;
    const first = await send(path, {}, env);
    const auth = { headers: { authorization: "Basic ZXZpbDpldmls", "user-agent": "attacker" } };
    expect((await send(path, auth, env)).header("x-cache")).toBe("BYPASS");
    const after = await send(path, {}, env);
    expect(after.header("x-cache")).toBe("HIT");
    expect(after.body).toBe(first.body);
    await send(path, { method: "POST", body: "x" }, env);
    await send(path, auth, env);
    const clean = await send(path, {}, env);
    expect(clean.header("x-cache")).toBe("MISS"); // refilled by an anonymous request, not the authorized one
    expect(clean.body).not.toContain("attacker");
  });
});

describe("4. bypass rules cannot be evaded by spellings the origin routes to the same view", () => {
  const cart = { rules: [{ name: "cart", paths: ["/cart/*", "/account/*"], bypass: true }] };
  it.each([
    [WSGI, "/cart%2F"], [WSGI, "/cart%2f"], [WSGI, "/account%2F"], [WSGI, "/admin%2F"], [WSGI, "/admin%2Fusers%2F"],
    [LENIENT, "/CART/"], [LENIENT, "/cart;x/"], [LENIENT, "/x/..;/cart/"], [LENIENT, "/Account/"],
  ])("%s %s: the victim's personal page is never stored", async (origin, spelling) => {
    const env = site(origin, cart);
    const path = `${spelling}${q()}`;
    const victim = await send(path, { headers: { cookie: "cart_id=victim-42" } }, env);
    expect(victim.body).toContain("victim-42");
    expect(victim.header("cache-status")).not.toContain("stored");
    const attacker = await send(path, {}, env);
    expect(attacker.body).not.toContain("victim-42");
    expect(attacker.header("x-cache")).not.toBe("HIT");
  });

  it("/static/..;/account/?json=1 is never stored as a year-long static asset", async () => {
    const env = site(LENIENT, cart);
    const path = `/static/..;/account/?json=1&${q().slice(1)}`;
    const victim = await send(path, { headers: { cookie: "sessionid=victim" } }, env);
    expect(victim.header("cache-status")).not.toContain("stored");
    const attacker = await send(path, {}, env);
    expect(attacker.body).not.toContain("victim");
  });

  it.each(["json", "text"])("%s under /static/ is not a static asset unless a rule opts in", async (type) => {
    const path = `/static/data.${type}${q()}&type=${type}`;
    const plain = await send(path, {}, site(WSGI));
    expect(plain.header("cache-status")).toContain("detail=content-type");
    expect(plain.header("cache-status")).not.toContain("stored");
    const optIn = site(WSGI, { rules: [{ name: "static", paths: ["/static/*"], cacheControl: "public, max-age=60", contentTypes: ["application/json", "text/plain"], language: false }] });
    expect((await send(path, {}, optIn)).header("cache-status")).toContain("stored");
  });
});

describe("5. a negative answer never outlives negativeTtl", () => {
  it("a 404 is not served stale past negativeTtl when the origin fails (no default stale-if-error)", async () => {
    const w = clockedWorker({ negativeTtl: 60 });
    const { script } = await import("../helpers.ts");
    const p = `/t/neg-${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { status: 404, headers: { "cache-control": "public, max-age=600, stale-if-error=86400" }, body: "gone" }, { reset: "headers" });
    expect((await w.send(p)).status).toBe(404);
    w.advance(30);
    expect((await w.send(p)).header("x-cache")).toBe("HIT");
    w.advance(45); // 75 s: past negativeTtl, stale
    const r = await w.send(p);
    expect(r.status).toBe(502);
    expect(r.body).not.toBe("gone");
  });
});

describe("6. a Cookie header a server-side parser reads differently is never cached", () => {
  it.each(["\x1fsessionid=evil", "\x1csessionid=evil", "\x1dsessionid=evil", "\x1esessionid=evil", "sessionid\x1f=evil", "a=1; sessionid=x; sessionid="])(
    "%j bypasses the cache",
    async (cookie) => {
      const env = site();
      const path = `/page/${q()}`;
      const r = await send(path, { headers: { cookie } }, env);
      expect(r.header("x-cache")).toBe("BYPASS");
      expect(r.header("cache-status")).toMatch(/detail=(ambiguous-cookie|session)/);
      expect((await send(path, {}, env)).header("x-cache")).toBe("MISS");
    },
  );
});

describe("7. no spelling of the worker's namespace is forwarded with the bearer token", () => {
  it.each([
    "/__edge./purge", "/__edge%5Cpurge", "/__edge%00/purge", "/.%2F__edge/purge", "/x/..%2F__edge/purge",
    "/%252e/__edge/purge", "/__edge%252Fpurge", "/%C5%BF__edge/purge", "/__EDGE/purge/", "/x/%5F%5Fedge/purge",
  ])("%s is answered by the worker", async (path) => {
    const env = site();
    const r = await send(path, { method: "POST", headers: { authorization: `Bearer ${testEnv.PURGE_TOKEN}` }, body: "{}" }, env);
    expect(r.status).toBe(404);
    expect(await seen(WSGI, path.slice(0, 6))).toHaveLength(0);
  });

  it("a request bearing the purge token is never forwarded, whatever its path", async () => {
    const env = site();
    const path = `/innocent/${q()}`;
    const r = await send(path, { headers: { authorization: `Bearer ${testEnv.PURGE_TOKEN}` } }, env);
    expect(r.status).toBe(404);
    expect(await seen(WSGI, path)).toHaveLength(0);
  });
});
