/**
 * The origin shield, simulated at scale: 3 "locations" × 2 "isolates" (separate app instances,
 * each with its own memory tier and coalescer; the two of a location share a Cache API store,
 * locations do not), sharing KV, the shield's Durable Object namespace and R2, in front of the
 * real local test origin.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { sweep } from "../../src/shield/tier.ts";
import { originLog, purgesPublished, script, sendTo, SITE, testEnv, uniquePath } from "../helpers.ts";

const TOKEN = testEnv.PURGE_TOKEN;

interface Answer {
  status: number;
  body: string;
  xCache: string | null;
  cacheStatus: string | null;
  ms: number;
}

/** One isolate of one location: its own app (memory tier, coalescer, origin health), its location's Cache API store. */
function isolate(location: string, version: string, config: Record<string, unknown>, env: Partial<Env> = {}) {
  const app = createApp(parseConfig({
    ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: version,
    EDGE_CONFIG: { cacheName: `shield-${location}-${version}`, tagCheckMemoMs: 100, shield: { enabled: true }, ...config },
  }));
  return {
    name: location,
    version,
    async send(path: string, init: RequestInit = {}): Promise<Answer> {
      const r = await sendTo(app, path, init, env);
      return { status: r.status, body: r.body, xCache: r.header("x-cache"), cacheStatus: r.header("cache-status"), ms: r.ms };
    },
  };
}

type Isolate = ReturnType<typeof isolate>;

/** 3 locations × 2 isolates with one configuration. */
function world(config: Record<string, unknown> = {}, env: Partial<Env> = {}): Isolate[] {
  const version = crypto.randomUUID().slice(0, 8);
  return ["ams", "sin", "iad"].flatMap((loc) => [isolate(loc, version, config, env), isolate(loc, version, config, env)]);
}

/** `n` concurrent requests for `path`, spread over the isolates round-robin. */
function spread(isolates: Isolate[], path: string, n: number, init: RequestInit = {}): Promise<Answer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => isolates[i % isolates.length]!.send(path, init)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("origin shield: one origin fetch per key for every location", () => {
  it("50 concurrent cold requests over 3 locations × 2 isolates: 1 origin request, the same page everywhere", async () => {
    const w = world();
    const p = uniquePath("/shield");
    await script(p, { delayMs: 150, headers: { "cache-control": "max-age=300" }, body: "rendered once" });
    const answers = await spread(w, p, 50);
    expect(answers.every((a) => a.status === 200 && a.body === "rendered once")).toBe(true);
    expect(await originLog(p)).toHaveLength(1);
    // The shield's Cache-Status member comes first (RFC 9211: the cache nearest the origin).
    expect(answers.some((a) => a.cacheStatus?.startsWith("edge-cache-shield; fwd=uri-miss; fwd-status=200; stored"))).toBe(true);
    expect(answers.some((a) => a.xCache === "HIT, MISS")).toBe(true);
    // Later misses elsewhere are answered by the shield; each location then has its own copy.
    const later = await spread(w, p, 12);
    expect(later.every((a) => a.body === "rendered once")).toBe(true);
    expect(await originLog(p)).toHaveLength(1);
  });

  it("after expiry: one conditional revalidation for every location", async () => {
    const w = world();
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=1", etag: '"v1"' }, body: "v1" }, { status: 304, headers: { "cache-control": "max-age=60", etag: '"v1"' } });
    await spread(w, p, 12);
    expect(await originLog(p)).toHaveLength(1);
    await sleep(1300);
    const answers = await spread(w, p, 50);
    expect(answers.every((a) => a.status === 200 && a.body === "v1")).toBe(true);
    const log = await originLog(p);
    expect(log).toHaveLength(2);
    expect(log[1]!.headers["if-none-match"]).toBe('"v1"');
    expect(answers.some((a) => a.cacheStatus?.includes("edge-cache-shield; fwd=stale; fwd-status=304; stored"))).toBe(true);
    // Fresh again everywhere for 60 s.
    await spread(w, p, 12);
    expect(await originLog(p)).toHaveLength(2);
  });

  it("after a purge: one refetch for every location", async () => {
    const w = world();
    const p = uniquePath("/shield");
    const tag = `shield_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-control": "max-age=300", "cache-tag": tag }, body: "before" },
      { headers: { "cache-control": "max-age=300", "cache-tag": tag }, body: "after" });
    await spread(w, p, 12);
    expect(await originLog(p)).toHaveLength(1);
    const r = await w[0]!.send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    expect(r.status).toBe(200);
    await purgesPublished();
    await sleep(250); // past every isolate's journal poll interval (100 ms)
    await spread(w, p, 6); // each isolate refreshes its journal (requests may still see the old copy once)
    const answers = await spread(w, p, 50);
    expect(answers.every((a) => a.body === "after")).toBe(true);
    expect(await originLog(p)).toHaveLength(2);
  });

  it("a purge a location knows before the shield does: the location asks again, newer, and never serves the purged copy", async () => {
    const w = world();
    const p = uniquePath("/shield");
    const tag = `early_${crypto.randomUUID().slice(0, 8)}`;
    await script(p, { headers: { "cache-control": "max-age=300", "cache-tag": tag }, body: "before" },
      { headers: { "cache-control": "max-age=300", "cache-tag": tag }, body: "after" });
    await w[0]!.send(p);
    await w[2]!.send(p); // the shield answers another location: it is warm
    // The purge is honoured at once where it was made; the shield learns it from the journal later.
    await w[0]!.send("/__edge/purge", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: [tag] }) });
    const a = await w[0]!.send(p);
    expect(a.body).toBe("after");
    expect(await originLog(p)).toHaveLength(2);
  });
});

describe("origin shield: what is never shared", () => {
  it("keyed cookies: each user's variant is its own key and its own shield object", async () => {
    const w = world({ keyCookies: ["currency"] });
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=300", vary: "Cookie" }, body: "priced" });
    const eur = await w[0]!.send(p, { headers: { cookie: "currency=eur" } });
    const usd = await w[2]!.send(p, { headers: { cookie: "currency=usd" } });
    const eur2 = await w[4]!.send(p, { headers: { cookie: "currency=eur" } });
    expect([eur.status, usd.status, eur2.status]).toEqual([200, 200, 200]);
    const log = await originLog(p);
    expect(log.map((r) => r.headers.cookie)).toEqual(["currency=eur", "currency=usd"]);
    expect(eur2.xCache).toBe("HIT, MISS"); // another location, the same variant: from the shield
  });

  it("a session: bypassed at the location, never through the shield, never stored", async () => {
    const w = world();
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=300" }, body: "personal" }, { headers: { "cache-control": "max-age=300" }, body: "public" });
    const a = await w[0]!.send(p, { headers: { cookie: "sessionid=abc" } });
    expect(a.body).toBe("personal");
    expect(a.cacheStatus).not.toContain("edge-cache-shield");
    const b = await w[2]!.send(p);
    expect(b.body).toBe("public");
    expect((await originLog(p)).map((r) => r.headers.cookie ?? null)).toEqual(["sessionid=abc", null]);
  });

  it("an unstorable answer (private) goes to its own caller only: concurrent callers each reach the origin", async () => {
    const w = world();
    const p = uniquePath("/shield");
    await script(p, { delayMs: 100, headers: { "cache-control": "private, max-age=300" }, body: "mine" });
    const answers = await spread(w, p, 6);
    expect(answers.every((a) => a.body === "mine" && a.cacheStatus!.includes("detail=private"))).toBe(true);
    expect(await originLog(p)).toHaveLength(6);
  });
});

describe("origin shield: it never turns a page into an error", () => {
  // Each failure is logged (a fault line); kept out of the test output, and checked once below.
  const faults: string[] = [];
  beforeEach(() => {
    faults.length = 0;
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => { faults.push(args.map(String).join(" ")); });
  });
  afterEach(() => vi.restoreAllMocks());

  /** A SHIELD binding whose objects fail (throw) or never answer (hang). */
  function brokenShield(mode: "throw" | "hang"): Partial<Env> {
    const real = testEnv.SHIELD!;
    const ns = {
      idFromName: (name: string) => real.idFromName(name),
      get: () => ({
        fill: () => (mode === "throw" ? Promise.reject(new Error("shield unreachable")) : new Promise(() => undefined)),
        peek: () => Promise.reject(new Error("shield unreachable")),
      }),
    };
    return { SHIELD: ns as unknown as Env["SHIELD"] };
  }

  it("unreachable: the origin answers at once (and the page is stored at the location)", async () => {
    const loc = isolate("x", crypto.randomUUID().slice(0, 8), {}, brokenShield("throw"));
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=300" }, body: "direct" });
    const a = await loc.send(p);
    expect(a.status).toBe(200);
    expect(a.body).toBe("direct");
    expect(a.cacheStatus).not.toContain("edge-cache-shield");
    expect((await loc.send(p)).xCache).toBe("HIT");
    expect(await originLog(p)).toHaveLength(1);
    expect(faults.some((l) => l.includes('"where":"shield"') && l.includes("shield unreachable"))).toBe(true);
  });

  it("hanging: the origin answers after shield.timeoutMs", async () => {
    const loc = isolate("y", crypto.randomUUID().slice(0, 8), { shield: { enabled: true, timeoutMs: 300 } }, brokenShield("hang"));
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=300" }, body: "direct" });
    const a = await loc.send(p);
    expect(a.body).toBe("direct");
    expect(a.ms).toBeGreaterThanOrEqual(290);
    expect(a.ms).toBeLessThan(2000);
  });

  it("after repeated failures an isolate stops asking the shield for the origin's cool-down", async () => {
    const calls: number[] = [];
    const real = testEnv.SHIELD!;
    const ns = {
      idFromName: (name: string) => real.idFromName(name),
      get: () => ({ fill: () => (calls.push(1), Promise.reject(new Error("down"))) }),
    };
    const loc = isolate("z", crypto.randomUUID().slice(0, 8), {}, { SHIELD: ns as unknown as Env["SHIELD"] });
    for (let i = 0; i < 6; i++) {
      const p = uniquePath("/shield");
      await script(p, { headers: { "cache-control": "max-age=300" }, body: "direct" });
      expect((await loc.send(p)).body).toBe("direct");
    }
    expect(calls).toHaveLength(3);
  });

  it("a slow origin behind the shield: the shield's stale copy answers within a second, and its fetch refreshes the copy", async () => {
    const w = world({ originTimeoutMs: 5000 });
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=1" }, body: "old" }, { delayMs: 2000, headers: { "cache-control": "max-age=60" }, body: "new" });
    await w[0]!.send(p);
    await sleep(1200);
    const a = await w[2]!.send(p); // another location: nothing of its own, the shield has a stale copy
    expect(a.body).toBe("old");
    expect(a.ms).toBeLessThan(1500);
    expect(a.cacheStatus).toMatch(/^edge-cache-shield; hit; fwd=stale; ttl=-\d+; detail=stale-origin-slow, edge-cache; hit; fwd=stale; ttl=-\d+; detail=stale-origin-slow/);
    await sleep(1500); // the shield's fetch has finished in the background
    const b = await w[4]!.send(p);
    expect(b.body).toBe("new");
    expect(b.xCache).toBe("HIT, MISS");
    expect(await originLog(p)).toHaveLength(2);
  });
});

describe("origin shield: large bodies, explain, logs", () => {
  it("the log line says whether the origin was asked and what the shield answered", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => { lines.push(args.map(String).join(" ")); });
    try {
      const version = crypto.randomUUID().slice(0, 8);
      const [a, b] = [isolate("la", version, {}, { LOG_REQUESTS: "true" }), isolate("lb", version, {}, { LOG_REQUESTS: "true" })];
      const p = uniquePath("/shield");
      await script(p, { headers: { "cache-control": "max-age=300" }, body: "logged" });
      await a.send(p);
      await b.send(p);
      const records = lines.map((l) => JSON.parse(l) as { event: string; path: string; cache: string; originAsked: boolean; shield: string }).filter((r) => r.event === "request" && r.path === p);
      expect(records.map((r) => [r.cache, r.originAsked, r.shield])).toEqual([["MISS", true, "miss"], ["MISS", false, "hit"]]);
    } finally {
      spy.mockRestore();
    }
  });

  it("a body over 1 MiB is kept in R2 and served to another location without the origin", async () => {
    const w = world();
    const p = uniquePath("/shield");
    const big = "x".repeat(2 * 1024 * 1024 + 17);
    await script(p, { headers: { "cache-control": "max-age=300", "content-type": "text/plain" }, body: big });
    const a = await w[0]!.send(p);
    expect(a.body.length).toBe(big.length);
    await sleep(100);
    const b = await w[2]!.send(p);
    expect(b.body).toBe(big);
    expect(b.xCache).toBe("HIT, MISS");
    expect(await originLog(p)).toHaveLength(1);
    const listed = await testEnv.SHIELD_BUCKET!.list({ prefix: "shield/" });
    expect(listed.objects.some((o) => o.size === big.length)).toBe(true);
  });

  it("an object is removed at the end of its life by the shield object's alarm (storage and R2)", async () => {
    const w = world();
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=300", "content-type": "text/plain" }, body: "y".repeat(1024 * 1024 + 1) });
    await w[0]!.send(p);
    await sleep(100);
    const ns = testEnv.SHIELD!;
    const stub = ns.get(ns.idFromName(`https://www.example.com/__ec/v=${w[0]!.version}${p}`));
    const state = await runInDurableObject(stub, async (_o, s) => ({ alarm: await s.storage.getAlarm(), keys: [...(await s.storage.list()).keys()] }));
    expect(state.keys).toEqual(["object"]);
    expect(state.alarm).toBeGreaterThan(Date.now() + 300_000); // fresh for 300 s, kept for revalidation and stale use after
    const r2Before = (await testEnv.SHIELD_BUCKET!.list({ prefix: "shield/" })).objects.length;
    const left = await runInDurableObject(stub, async (_o, s) => {
      await sweep({ storage: s.storage, bucket: testEnv.SHIELD_BUCKET, now: () => state.alarm! + 1 });
      return [...(await s.storage.list()).keys()];
    });
    expect(left).toEqual([]);
    expect((await testEnv.SHIELD_BUCKET!.list({ prefix: "shield/" })).objects.length).toBe(r2Before - 1);
  });

  it("explain shows the shield's copy", async () => {
    const w = world();
    const p = uniquePath("/shield");
    await script(p, { headers: { "cache-control": "max-age=300" }, body: "explained" });
    await w[0]!.send(p);
    const r = await w[0]!.send(`/__edge/explain?url=${encodeURIComponent(SITE + p)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const j = JSON.parse(r.body) as { shield: { status: number; state: string } | null };
    expect(j.shield).toMatchObject({ status: 200, state: "fresh" });
  });
});
