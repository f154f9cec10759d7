/**
 * Edge Side Includes against the real test origin: shared templates with personal fragments, what
 * is never stored, limits, failures, purges, streaming, and HTTP on assembled pages.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import type { ResponseSpec } from "../origin/protocol.ts";
import { originLog, script, sendTo, SITE, testEnv, uniquePath } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;
const ESI = { "content-type": "text/html; charset=utf-8", "surrogate-control": 'content="ESI/1.0"' };

/** An app with ESI on every page, and /personal/* a bypass rule (a visitor's own fragments). */
function edge(extra: Record<string, unknown> = {}) {
  const app = createApp(parseConfig({
    ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: crypto.randomUUID().slice(0, 8),
    EDGE_CONFIG: {
      rules: [
        { name: "html", paths: ["*"], cacheControl: "public, max-age=300, s-maxage=1800", esi: true },
        { name: "personal", paths: ["/personal/*"], bypass: true },
        { name: "plain", paths: ["/plain/*"], cacheControl: "public, max-age=300" },
      ],
      ...extra,
    },
  }));
  return (path: string, init: RequestInit = {}) => sendTo(app, path, init);
}

const page = (html: string, extra: Record<string, string> = {}): ResponseSpec => ({ headers: { ...ESI, ...extra }, body: html });
const session = (name: string) => ({ headers: { cookie: `sessionid=${name}; theme=dark` } });

describe("ESI: shared templates, personal fragments", () => {
  it("two signed-in visitors share one cached template, each with their own fragment", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const me = uniquePath("/personal");
    await script(p, page(`<p>before</p><esi:include src="${me}"/><p>after</p>`));
    await script(me, { headers: { "content-type": "text/html", "cache-control": "private" }, body: "<b>", echoCookie: true });
    const alice = await send(p, session("alice"));
    const bob = await send(p, session("bob"));
    expect(alice.body).toBe("<p>before</p><b>cookie=sessionid=alice; theme=dark<p>after</p>");
    expect(bob.body).toBe("<p>before</p><b>cookie=sessionid=bob; theme=dark<p>after</p>");
    expect(alice.header("x-cache")).toBe("MISS");
    expect(bob.header("x-cache")).toBe("HIT"); // the page itself is shared
    // The template was fetched once, without anyone's cookies; each fragment with its visitor's.
    const templateLog = await originLog(p);
    expect(templateLog).toHaveLength(1);
    expect(templateLog[0]!.headers.cookie).toBeUndefined();
    expect(templateLog[0]!.headers["surrogate-capability"]).toBe('edge-cache="ESI/1.0"');
    expect((await originLog(me)).map((r) => r.headers.cookie)).toEqual(["sessionid=alice; theme=dark", "sessionid=bob; theme=dark"]);
    // An assembled page is not the stored object: no length, no validators, private; no Surrogate-Control.
    for (const r of [alice, bob]) {
      expect(r.header("content-length")).toBeNull();
      expect(r.header("etag")).toBeNull();
      expect(r.header("cache-control")).toBe("private, no-cache");
      expect(r.header("surrogate-control")).toBeNull();
    }
  });

  it("a fragment answered private is fetched again with the visitor's cookies, and never stored", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const frag = uniquePath("/t/esi-frag");
    await script(p, page(`[<esi:include src="${frag}"/>]`));
    await script(frag, { headers: { "cache-control": "private, max-age=600" }, body: "", echoCookie: true });
    const alice = await send(p, session("alice"));
    expect(alice.body).toBe("[cookie=sessionid=alice; theme=dark]");
    // The shared attempt (no cookies), then the visitor's own; nothing was stored for the next visitor.
    expect((await originLog(frag)).map((r) => r.headers.cookie ?? null)).toEqual([null, "sessionid=alice; theme=dark"]);
    const anonymous = await send(p);
    expect(anonymous.body).toBe("[cookie=none]");
    expect(anonymous.body).not.toContain("alice");
    // Remembered (hit-for-pass): the next visitor with cookies goes straight to the origin with them.
    expect((await send(p, session("erin"))).body).toBe("[cookie=sessionid=erin; theme=dark]");
    expect((await originLog(frag)).slice(3).map((r) => r.headers.cookie)).toEqual(["sessionid=erin; theme=dark"]);
  });

  it("a signed-in visitor on a page the origin does not mark for ESI is passed with its cookies, as before", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    await script(p, { headers: { "content-type": "text/html" }, body: "whole page", echoCookie: true });
    const r = await send(p, session("carol"));
    expect(r.body).toBe("whole pagecookie=sessionid=carol; theme=dark");
    expect(r.header("cache-status")).toContain("detail=session");
    expect((await send(p)).body).toBe("whole pagecookie=none"); // the shared copy, stored from the cookie-less fetch
  });

  it("a signed-in visitor on a private page: one origin request each time after the first (hit-for-pass)", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    await script(p, { headers: { "content-type": "text/html", "cache-control": "private" }, body: "mine:", echoCookie: true });
    expect((await send(p, session("fay"))).body).toBe("mine:cookie=sessionid=fay; theme=dark");
    expect(await originLog(p)).toHaveLength(2); // the shared attempt, then the visitor's own
    expect((await send(p, session("fay"))).body).toBe("mine:cookie=sessionid=fay; theme=dark");
    expect(await originLog(p)).toHaveLength(3);
  });

  it("a public fragment is shared and cached on its own; a purge of its tag refreshes only it", async () => {
    const send = edge({ debugHeaders: true });
    const p = uniquePath("/t/esi");
    const frag = uniquePath("/t/esi-frag");
    const tag = `frag_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, page(`<h1>page</h1><esi:include src="${frag}"/>`, { "cache-tag": "page_tag" }));
    await script(frag, { headers: { "cache-control": "max-age=600", "cache-tag": tag }, body: "v1" }, { headers: { "cache-control": "max-age=600", "cache-tag": tag }, body: "v2" });
    expect((await send(p)).body).toBe("<h1>page</h1>v1");
    const again = await send(p, session("dave"));
    expect(again.body).toBe("<h1>page</h1>v1"); // the shared fragment, for a signed-in visitor too
    expect(again.header("x-edge-esi")).toContain("hit");
    const purge = await send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    expect(purge.status).toBe(200);
    const after = await send(p);
    expect(after.body).toBe("<h1>page</h1>v2");
    expect(after.header("x-cache")).toBe("HIT"); // the template was not touched
    expect(after.header("x-edge-esi")).toMatch(/fwd=uri-miss|detail=purged/);
    expect(await originLog(p)).toHaveLength(1);
    expect(await originLog(frag)).toHaveLength(2);
  });
});

describe("ESI: markup", () => {
  it("esi:remove is dropped, <!--esi --> unwrapped (its includes processed), esi:comment removed", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const frag = uniquePath("/t/esi-frag");
    await script(p, page(`<esi:remove><a href="${frag}">fallback</a><esi:include src="/never/"/></esi:remove>A<!--esi <i><esi:include src="${frag}"/></i> -->B<esi:comment text="note"/>C`));
    await script(frag, { headers: { "cache-control": "max-age=60" }, body: "F" });
    const r = await send(p);
    expect(r.body).toBe("A <i>F</i> BC");
    expect(await originLog("/never/")).toHaveLength(0);
  });

  it("a rule without esi passes the markup through untouched (and still hides Surrogate-Control)", async () => {
    const send = edge();
    const p = uniquePath("/plain");
    await script(p, page(`<esi:include src="/x/"/>`));
    const r = await send(p);
    expect(r.body).toBe(`<esi:include src="/x/"/>`);
    expect(r.header("surrogate-control")).toBeNull();
    expect((await originLog(p))[0]!.headers["surrogate-capability"]).toBeUndefined();
  });

  it("a client cannot claim ESI capability to the origin", async () => {
    const send = edge();
    const p = uniquePath("/personal");
    await script(p, { body: "x" });
    await send(p, { headers: { "surrogate-capability": 'evil="ESI/1.0"' } });
    expect((await originLog(p))[0]!.headers["surrogate-capability"]).toBeUndefined();
  });
});

describe("ESI: limits and failures", () => {
  // Each failed include is logged (a warning); kept out of the output, checked once below.
  const warned: string[] = [];
  beforeEach(() => {
    warned.length = 0;
    vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => { warned.push(args.map(String).join(" ")); });
  });
  afterEach(() => vi.restoreAllMocks());

  it("fragments on another host, scheme-relative or with backslashes are refused without a request", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    await script(p, page(`<esi:include src="https://evil.example/x"/>|<esi:include src="//evil.example/x"/>|<esi:include src="/\\evil.example/x"/>|<esi:include src="/__edge/purge"/>`));
    const r = await send(p);
    expect(r.body.match(/refused/g)).toHaveLength(4);
    expect(r.body).not.toContain("<esi:");
    expect(warned.filter((l) => l.includes('"event":"esi-include-failed"'))).toHaveLength(4);
  });

  it("at most 32 includes per page: the rest fail, and 32 subrequests for one fragment make one origin request", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const frag = uniquePath("/t/esi-frag");
    await script(p, page(Array.from({ length: 40 }, () => `<esi:include src="${frag}"/>`).join("")));
    await script(frag, { delayMs: 50, headers: { "cache-control": "max-age=60" }, body: "x" });
    const r = await send(p);
    expect(r.body.match(/x/g)?.length).toBeGreaterThanOrEqual(32);
    expect(r.body.startsWith("x".repeat(32))).toBe(true);
    expect(r.body.match(/more than 32 includes/g)).toHaveLength(8);
    expect(await originLog(frag)).toHaveLength(1);
  });

  it("includes nest at most 3 deep", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    await script(p, page(`(<esi:include src="${p}"/>)`)); // a page that includes itself
    const r = await send(p);
    expect(r.body.startsWith("((((")).toBe(true);
    expect(r.body).toContain("more than 3 levels of includes");
    expect(r.body.endsWith("))))")).toBe(true);
  });

  it("a slow fragment: its alt, or nothing with onerror=continue, or an error comment", async () => {
    const send = edge({ esiFragmentTimeoutMs: 300 });
    const p = uniquePath("/t/esi");
    const slow = uniquePath("/t/esi-slow");
    const alt = uniquePath("/t/esi-alt");
    await script(p, page(`1<esi:include src="${slow}" onerror="continue"/>2<esi:include src="${slow}"/>3<esi:include src="${slow}" alt="${alt}"/>4`));
    await script(slow, { delayMs: 1500, body: "late" });
    await script(alt, { headers: { "cache-control": "max-age=60" }, body: "ALT" });
    const r = await send(p);
    expect(r.body).toMatch(/^12<!-- esi:include "[^"]+" failed: no answer within 300 ms -->3ALT4$/);
    expect(r.ms).toBeLessThan(1200);
  });

  it("a fragment that fails (404) follows the same rules", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const gone = uniquePath("/t/esi-gone");
    await script(p, page(`a<esi:include src="${gone}"/>b`));
    await script(gone, { status: 404, body: "nope" });
    expect((await send(p)).body).toMatch(/^a<!-- esi:include "[^"]+" failed: status 404 -->b$/);
  });
});

describe("ESI: streaming and HTTP on assembled pages", () => {
  it("fragments are fetched in parallel and streamed in document order; the first bytes go out before them", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const [a, b] = [uniquePath("/t/esi-a"), uniquePath("/t/esi-b")];
    await script(p, page(`<p>head</p><esi:include src="${a}"/><p>middle</p><esi:include src="${b}"/><p>tail</p>`));
    await script(a, { delayMs: 600, headers: { "cache-control": "max-age=60" }, body: "A" });
    await script(b, { delayMs: 600, headers: { "cache-control": "max-age=60" }, body: "B" });
    const r = await send(p);
    expect(r.body).toBe("<p>head</p>A<p>middle</p>B<p>tail</p>");
    expect(r.ms).toBeLessThan(1100); // parallel: one fragment's delay, not two
  });

  it("the bytes before a slow fragment reach the client before the fragment has arrived", async () => {
    const app = createApp(parseConfig({
      ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: crypto.randomUUID().slice(0, 8),
      EDGE_CONFIG: { rules: [{ name: "html", paths: ["*"], cacheControl: "public, max-age=300", esi: true }] },
    }));
    const p = uniquePath("/t/esi");
    const slow = uniquePath("/t/esi-slow");
    await script(p, page(`<p>${"early ".repeat(2000)}</p><esi:include src="${slow}"/><p>late</p>`));
    await script(slow, { delayMs: 800, headers: { "cache-control": "max-age=60" }, body: "S" });
    const ctx = createExecutionContext();
    const started = Date.now();
    const res = await app.fetch(new Request(`${SITE}${p}`), testEnv, ctx);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first.value)).toContain("early");
    expect(firstAt).toBeLessThan(700);
    let rest = "";
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    expect(rest).toContain("S<p>late</p>");
    await waitOnExecutionContext(ctx);
  });

  it("HEAD: headers only, no fragment fetched; If-None-Match and Range: the whole assembled page", async () => {
    const send = edge();
    const p = uniquePath("/t/esi");
    const frag = uniquePath("/t/esi-frag");
    await script(p, page(`<p>x</p><esi:include src="${frag}"/>`, { etag: '"tmpl"', "last-modified": "Sun, 01 Nov 2026 00:00:00 GMT" }));
    await script(frag, { headers: { "cache-control": "max-age=60" }, body: "F" });
    const head = await send(p, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.header("content-length")).toBeNull();
    expect(await originLog(frag)).toHaveLength(0);
    const conditional = await send(p, { headers: { "if-none-match": '"tmpl"', "if-modified-since": "Sun, 01 Nov 2026 00:00:00 GMT" } });
    expect(conditional.status).toBe(200);
    expect(conditional.body).toBe("<p>x</p>F");
    expect(conditional.header("etag")).toBeNull();
    expect(conditional.header("last-modified")).toBeNull();
    const ranged = await send(p, { headers: { range: "bytes=0-3" } });
    expect(ranged.status).toBe(200);
    expect(ranged.body).toBe("<p>x</p>F");
    expect(ranged.header("accept-ranges")).toBeNull();
  });
});
