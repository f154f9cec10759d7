/**
 * Stale within a second: with a usable stale copy, a hung, slow or refusing origin costs the client
 * at most staleWaitMs (default 1 s), not the origin timeout; the fetch finishes in the background
 * and refreshes the entry. Never for a copy that must not be served stale or was purged.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { originLog, script, SITE, testEnv, uniquePath } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An app (an isolate) with its own cache version, or a given one to share a Cache API store with another app. */
function edge(config: Record<string, unknown> = {}, version = crypto.randomUUID().slice(0, 8)) {
  const app = createApp(parseConfig({ ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: version, EDGE_CONFIG: config }));
  return {
    version,
    /** The response as soon as its body is read (`ms`), and `done`: its background work finished. */
    async send(path: string, init: RequestInit = {}) {
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await app.fetch(new Request(`${SITE}${path}`, init), testEnv, ctx);
      const body = await res.text();
      const ms = Date.now() - started;
      return { status: res.status, body, ms, header: (n: string) => res.headers.get(n), done: waitOnExecutionContext(ctx) };
    },
  };
}

/** Store `p` (max-age=1) through `e` and let it go stale. */
async function staleEntry(e: ReturnType<typeof edge>, p: string): Promise<void> {
  const first = await e.send(p);
  await first.done;
  expect(first.body).toBe("old");
  await sleep(1100);
}

describe("stale within a second", () => {
  it("a hung origin: the stale copy answers within 1.5 s (the origin timeout is 5 s), then the fetch ends in the background", async () => {
    const e = edge({ originTimeoutMs: 5000 });
    const p = uniquePath("/sw");
    await script(p, { headers: { "cache-control": "max-age=1" }, body: "old" }, { delayMs: 30_000, headers: { "cache-control": "max-age=1" }, body: "never" });
    await staleEntry(e, p);
    const a = await e.send(p);
    expect(a.body).toBe("old");
    expect(a.ms).toBeLessThan(1500);
    expect(a.ms).toBeGreaterThanOrEqual(900);
    expect(a.header("cache-status")).toMatch(/^edge-cache; hit; fwd=stale; ttl=-\d+; detail=stale-origin-slow/);
    expect(a.header("warning")).toBe('110 - "Response is Stale"');
    await a.done; // the origin timed out in the background: it is now in its cool-down
    const b = await e.send(p);
    expect(b.body).toBe("old");
    expect(b.ms).toBeLessThan(300); // known unhealthy: not waited for at all
    expect(b.header("cache-status")).toContain("detail=stale-origin-down");
    await b.done;
    expect(await originLog(p)).toHaveLength(2); // nothing asked while it is down
  });

  it("a slow origin: stale at about 1 s, and the late answer refreshes the entry", async () => {
    const e = edge({ originTimeoutMs: 5000 });
    const p = uniquePath("/sw");
    await script(p, { headers: { "cache-control": "max-age=1" }, body: "old" }, { delayMs: 2000, headers: { "cache-control": "max-age=60" }, body: "new" });
    await staleEntry(e, p);
    const a = await e.send(p);
    expect(a.body).toBe("old");
    expect(a.ms).toBeLessThan(1500);
    await a.done;
    const b = await e.send(p);
    expect(b.body).toBe("new");
    expect(b.header("x-cache")).toBe("HIT");
    expect(await originLog(p)).toHaveLength(2);
  });

  it("concurrent requests while one fetches: each answers stale after staleWaitMs, and the origin is asked once", async () => {
    const e = edge({ originTimeoutMs: 5000, staleWaitMs: 300 });
    const p = uniquePath("/sw");
    await script(p, { headers: { "cache-control": "max-age=1" }, body: "old" }, { delayMs: 1500, headers: { "cache-control": "max-age=60" }, body: "new" });
    await staleEntry(e, p);
    const answers = await Promise.all(Array.from({ length: 8 }, () => e.send(p)));
    expect(answers.every((a) => a.body === "old" && a.ms < 900)).toBe(true);
    await Promise.all(answers.map((a) => a.done));
    expect(await originLog(p)).toHaveLength(2);
    expect((await e.send(p)).body).toBe("new");
  });

  it("an origin that refuses connections: stale at once, and not asked again during its cool-down", async () => {
    const p = uniquePath("/sw");
    const up = edge({ cacheName: "sw-refused" });
    await script(p, { headers: { "cache-control": "max-age=1" }, body: "old" });
    await staleEntry(up, p);
    // The same location (Cache API store and key), its origin now refusing connections.
    const down = edge({ cacheName: "sw-refused", origins: ["http://127.0.0.1:9"], originTimeoutMs: 5000 }, up.version);
    const a = await down.send(p);
    expect(a.body).toBe("old");
    expect(a.ms).toBeLessThan(1500);
    expect(a.header("cache-status")).toMatch(/detail=stale-(if-error|origin-slow)/);
    await a.done;
    const b = await down.send(p);
    expect(b.body).toBe("old");
    expect(b.header("cache-status")).toContain("detail=stale-origin-down");
  });

  it("staleWaitMs: 0 answers stale at once and refreshes in the background", async () => {
    const e = edge({ originTimeoutMs: 5000, staleWaitMs: 0 });
    const p = uniquePath("/sw");
    await script(p, { headers: { "cache-control": "max-age=1" }, body: "old" }, { delayMs: 300, headers: { "cache-control": "max-age=60" }, body: "new" });
    await staleEntry(e, p);
    const a = await e.send(p);
    expect(a.body).toBe("old");
    expect(a.ms).toBeLessThan(250);
    await a.done;
    expect((await e.send(p)).body).toBe("new");
  });

  it("must-revalidate: never answered stale, however long the origin takes", async () => {
    const e = edge({ originTimeoutMs: 2000 });
    const p = uniquePath("/sw");
    await script(p, { headers: { "cache-control": "max-age=1, must-revalidate" }, body: "old" }, { delayMs: 30_000, body: "never" });
    await staleEntry(e, p);
    const a = await e.send(p);
    expect(a.status).toBe(504);
    expect(a.ms).toBeGreaterThanOrEqual(1900);
    await a.done;
  });

  it("a purged copy: never answered stale, however long the origin takes", async () => {
    const e = edge({ originTimeoutMs: 2000 });
    const p = uniquePath("/sw");
    const tag = `sw_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-control": "max-age=60", "cache-tag": tag }, body: "old" }, { delayMs: 30_000, body: "never" });
    await (await e.send(p)).done;
    const purge = await e.send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    expect(purge.status).toBe(200);
    const a = await e.send(p);
    expect(a.status).toBe(504);
    expect(a.body).not.toContain("old");
    await a.done;
  });
});
