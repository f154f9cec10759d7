/**
 * The TS purge client (client/purge-client.ts) against the real worker in workerd: its fetch sends
 * each request through worker.fetch with a real ExecutionContext, like send() in ../helpers.ts.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import type { Env } from "../../src/env.ts";
import { createPurgeClient, type FetchLike, type PurgeBody, PurgeError, type PurgeClientOptions } from "../../client/purge-client.ts";
import { flakyCoordinator, originLog, script, send, SITE, testEnv, uniquePath } from "../helpers.ts";

const ENDPOINT = `${SITE}/__edge/purge`;

interface Call {
  body: PurgeBody;
  status: number;
}

/** A fetch that goes through the worker; records each request body and the status answered. */
function workerFetch(envOverrides: Partial<Env> = {}) {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(url, init), { ...testEnv, ...envOverrides }, ctx);
    const body = await res.text();
    await waitOnExecutionContext(ctx);
    calls.push({ body: JSON.parse(init.body) as PurgeBody, status: res.status });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  return { fetch, calls };
}

function client(opts: Partial<PurgeClientOptions> & { env?: Partial<Env> } = {}) {
  const wf = workerFetch(opts.env);
  const sleeps: number[] = [];
  const c = createPurgeClient({
    endpoint: ENDPOINT,
    token: testEnv.PURGE_TOKEN,
    fetch: wf.fetch,
    sleep: async (ms) => void sleeps.push(ms),
    ...opts,
  });
  return { c, calls: wf.calls, sleeps };
}

/** Fill `path` (a MISS that stores) and check the next request is a HIT. */
async function fill(path: string) {
  expect((await send(path)).header("cache-status")).toContain("stored");
  expect((await send(path)).header("x-cache")).toBe("HIT");
}

async function rejection(p: Promise<unknown>): Promise<PurgeError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(PurgeError);
  return e as PurgeError;
}

const uid = () => crypto.randomUUID().slice(0, 8);

describe("purge client against the worker", () => {
  it("purgeTags purges a cached page: HIT -> purge -> MISS", async () => {
    const p = uniquePath();
    const tag = `post_${uid()}`;
    await script(p, { headers: { "cache-tag": `${tag},category_news` } });
    await fill(p);
    const { c, calls } = client();
    const r = await c.purgeTags([tag]);
    expect(r).toMatchObject({ tags: 1, invalidated_tags: 1, requests: 1, everything: false, zone_purge: "not configured" });
    expect(r.ids).toHaveLength(1);
    expect(Date.parse(r.purged_at)).not.toBeNaN();
    expect(calls).toEqual([{ body: { tags: [tag] }, status: 200 }]);
    const after = await send(p);
    expect(after.header("x-cache")).toBe("MISS");
    expect(after.header("cache-status")).toContain("detail=purged");
    expect(await originLog(p)).toHaveLength(2);
  });

  it("splits 250 tags into 3 requests and merges the results; every batch takes effect", async () => {
    const id = uid();
    const tags = Array.from({ length: 250 }, (_, i) => `bulk_${id}_${i}`);
    const first = uniquePath();
    const last = uniquePath();
    const untouched = uniquePath();
    await script(first, { headers: { "cache-tag": tags[0]! } });
    await script(last, { headers: { "cache-tag": tags[249]! } });
    await script(untouched, { headers: { "cache-tag": `other_${id}` } });
    await Promise.all([fill(first), fill(last), fill(untouched)]);

    const { c, calls } = client();
    const r = await c.purgeTags(tags);
    expect(calls.map((x) => [x.body.tags?.length, x.status])).toEqual([[100, 200], [100, 200], [50, 200]]);
    expect(calls.flatMap((x) => x.body.tags)).toEqual(tags);
    expect(r).toMatchObject({ tags: 250, invalidated_tags: 250, requests: 3, files: 0 });
    expect(new Set(r.ids).size).toBe(3);
    expect(r.batches).toHaveLength(3);
    expect((await send(first)).header("x-cache")).toBe("MISS");
    expect((await send(last)).header("x-cache")).toBe("MISS");
    expect((await send(untouched)).header("x-cache")).toBe("HIT");
  });

  it("batches mixed kinds by their total (≤ 100 items per request)", async () => {
    const base = uniquePath();
    await fill(`${base}/a`);
    const files = Array.from({ length: 70 }, (_, i) => `${SITE}${base}/${i === 0 ? "a" : `n${i}`}`);
    const tags = Array.from({ length: 70 }, (_, i) => `mix_${uid()}_${i}`);
    const { c, calls } = client();
    const r = await c.purge({ files, tags, hosts: [`h${uid()}.example.org`] });
    expect(calls.map((x) => [x.body.files?.length ?? 0, x.body.tags?.length ?? 0, x.body.hosts?.length ?? 0])).toEqual([[70, 30, 0], [0, 40, 1]]);
    expect(r).toMatchObject({ files: 70, tags: 70, hosts: 1, requests: 2 });
    expect((await send(`${base}/a`)).header("x-cache")).toBe("MISS");
  });

  it("purgeUrls, purgePrefixes and purgeHosts send the API's fields", async () => {
    const base = uniquePath();
    await fill(`${base}/blog/x/`);
    const { c, calls } = client();
    expect(await c.purgeUrls([{ url: `${SITE}${base}/one`, headers: { "Accept-Language": "fr" } }])).toMatchObject({ files: 1 });
    expect(await c.purgeHosts([`h${uid()}.example.org`])).toMatchObject({ hosts: 1 });
    expect(await c.purgePrefixes([`www.example.com${base}/blog/`])).toMatchObject({ prefixes: 1 });
    expect((await send(`${base}/blog/x/`)).header("x-cache")).toBe("MISS");
    expect(calls.map((x) => x.body)).toEqual([
      { files: [{ url: `${SITE}${base}/one`, headers: { "Accept-Language": "fr" } }] },
      { hosts: [expect.stringMatching(/\.example\.org$/)] },
      { prefixes: [`www.example.com${base}/blog/`] },
    ]);
  });

  it("purgeEverything: one tag, whatever the number of entries", async () => {
    const env: Partial<Env> = { CACHE_VERSION: crypto.randomUUID() };
    const p = uniquePath();
    expect((await send(p, {}, env)).header("cache-status")).toContain("stored");
    expect((await send(p, {}, env)).header("x-cache")).toBe("HIT");
    const { c, calls } = client({ env });
    expect(await c.purgeEverything()).toMatchObject({ everything: true, invalidated_tags: 1, requests: 1 });
    expect(calls.map((x) => x.body)).toEqual([{ purge_everything: true }]);
    expect((await send(p, {}, env)).header("x-cache")).toBe("MISS");
  });

  it("an empty list sends nothing", async () => {
    const { c, calls } = client();
    expect(await c.purgeTags([])).toMatchObject({ requests: 0, tags: 0, ids: [] });
    expect(calls).toHaveLength(0);
  });
});

describe("purge client errors", () => {
  it("a wrong token is a PurgeError with status 401, not retried, token not echoed", async () => {
    const { c, calls } = client({ token: "wrong-token-0123456789", env: { CACHE_VERSION: crypto.randomUUID() } });
    const e = await rejection(c.purgeTags(["a"]));
    expect(e.status).toBe(401);
    expect(e.errors).toEqual([{ code: 10000, message: "authentication error" }]);
    expect(e.message).toContain("authentication error");
    expect(e.message).not.toContain("wrong-token");
    expect(calls).toHaveLength(1);
  });

  it("a 400 carries the API's message and is not retried", async () => {
    const { c, calls } = client();
    const e = await rejection(c.purgeTags(["has space"]));
    expect(e.status).toBe(400);
    expect(e.errors[0]?.message).toMatch(/tags: "has space" is not printable ASCII without spaces/);
    expect(e.message).toContain(e.errors[0]!.message);
    expect(calls).toHaveLength(1);
  });

  it("purge_everything combined with tags is rejected by the API, not split", async () => {
    const { c, calls } = client();
    const e = await rejection(c.purge({ purge_everything: true, tags: ["a"] }));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/cannot be combined/);
    expect(calls).toHaveLength(1);
  });

  it("a failing batch reports the batches already done", async () => {
    const tags = [...Array.from({ length: 100 }, (_, i) => `ok_${i}`), "bad tag"];
    const { c, calls } = client();
    const e = await rejection(c.purgeTags(tags));
    expect(e.status).toBe(400);
    expect(e.completed).toHaveLength(1);
    expect(e.completed[0]).toMatchObject({ tags: 100 });
    expect(calls.map((x) => x.status)).toEqual([200, 400]);
  });

  it("a 404 (no PURGE_TOKEN on the worker) explains itself", async () => {
    const { c } = client({ env: { PURGE_TOKEN: "" } });
    const e = await rejection(c.purgeTags(["a"]));
    expect(e.status).toBe(404);
    expect(e.errors[0]?.message).toMatch(/no PURGE_TOKEN secret is set/);
    expect(e.message).toMatch(/PURGE_TOKEN/);
  });

  it("retries the worker's 503 (the coordinator unreachable), then succeeds", async () => {
    const env: Partial<Env> = { CACHE_VERSION: crypto.randomUUID(), ...flakyCoordinator(1) };
    const p = uniquePath();
    const tag = `retry_${uid()}`;
    await script(p, { headers: { "cache-tag": tag } });
    await send(p, {}, env);
    expect((await send(p, {}, env)).header("x-cache")).toBe("HIT");
    const { c, calls, sleeps } = client({ env, backoffMs: 40 });
    const r = await c.purgeTags([tag]);
    expect(r).toMatchObject({ tags: 1, requests: 1 });
    expect(calls.map((x) => x.status)).toEqual([503, 200]);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(20);
    expect(sleeps[0]).toBeLessThanOrEqual(40);
    expect((await send(p, {}, env)).header("x-cache")).toBe("MISS");
  });

  it("honours Retry-After on a 503", async () => {
    const wf = workerFetch();
    let n = 0;
    const flaky: FetchLike = async (url, init) => {
      if (n++ === 0) {
        const body = { success: false, errors: [{ code: 1503, message: "purge could not be recorded (KV)" }], messages: [], result: null };
        return new Response(JSON.stringify(body), { status: 503, headers: { "retry-after": "2" } });
      }
      return wf.fetch(url, init);
    };
    const sleeps: number[] = [];
    const c = createPurgeClient({ endpoint: ENDPOINT, token: testEnv.PURGE_TOKEN, fetch: flaky, sleep: async (ms) => void sleeps.push(ms) });
    const r = await c.purgeTags([`retry_${uid()}`]);
    expect(r).toMatchObject({ tags: 1, requests: 1 });
    expect(sleeps).toEqual([2000]);
    expect(n).toBe(2);
  });

  it("gives up on a persistent 503 after `attempts`, with growing backoff", async () => {
    let n = 0;
    const down: FetchLike = async () => {
      n++;
      return new Response(JSON.stringify({ success: false, errors: [{ code: 1503, message: "KV down" }], messages: [], result: null }), { status: 503 });
    };
    const sleeps: number[] = [];
    const c = createPurgeClient({ endpoint: ENDPOINT, token: "t0123456789abcdef", fetch: down, attempts: 3, backoffMs: 100, sleep: async (ms) => void sleeps.push(ms) });
    const e = await rejection(c.purgeEverything());
    expect(e.status).toBe(503);
    expect(e.message).toMatch(/HTTP 503 after 3 attempts\): KV down/);
    expect(n).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[0]).toBeLessThanOrEqual(100);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(sleeps[1]).toBeLessThanOrEqual(200);
  });

  it("does not wait out the worker's 60 s throttle of failed authentications (429)", async () => {
    const env = { CACHE_VERSION: crypto.randomUUID() };
    const headers = { "cf-connecting-ip": "198.51.100.99" };
    for (let i = 0; i < 10; i++) {
      const r = await send("/__edge/purge", { method: "POST", headers: { ...headers, authorization: "Bearer nope-nope-nope-nope" }, body: '{"tags":["a"]}' }, env);
      expect(r.status).toBe(401);
    }
    const wf = workerFetch(env);
    const sleeps: number[] = [];
    const c = createPurgeClient({
      endpoint: ENDPOINT,
      token: "still-the-wrong-token-0123",
      sleep: async (ms) => void sleeps.push(ms),
      fetch: (url, init) => wf.fetch(url, { ...init, headers: { ...init.headers, ...headers } }),
    });
    const e = await rejection(c.purgeTags(["a"]));
    expect(e.status).toBe(429);
    expect(e.retryAfterMs).toBe(60_000);
    expect(e.message).toMatch(/too many failed authentications/);
    expect(sleeps).toEqual([]);
    expect(wf.calls).toHaveLength(1);
  });

  it("retries network errors, then reports status 0", async () => {
    let n = 0;
    const broken: FetchLike = async () => {
      n++;
      throw new TypeError("connection refused");
    };
    const c = createPurgeClient({ endpoint: ENDPOINT, token: "t0123456789abcdef", fetch: broken, attempts: 2, sleep: async () => {} });
    const e = await rejection(c.purgeTags(["a"]));
    expect(e.status).toBe(0);
    expect(e.message).toMatch(/after 2 attempt\(s\): TypeError: connection refused/);
    expect(n).toBe(2);
  });

  it("rejects a bad endpoint or token at creation", () => {
    expect(() => createPurgeClient({ endpoint: "not a url", token: "x" })).toThrow(/endpoint/);
    expect(() => createPurgeClient({ endpoint: ENDPOINT, token: "" })).toThrow(/token/);
    expect(() => createPurgeClient({ endpoint: ENDPOINT, token: "two words" })).toThrow(/token/);
  });
});
