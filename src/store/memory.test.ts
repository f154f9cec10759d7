import { describe, expect, it } from "vitest";
import { withMemoryTier } from "../../src/store/memory.ts";

/** A stand-in for the platform Cache that counts what reaches it. */
function countingCache() {
  const store = new Map<string, { body: ArrayBuffer; init: ResponseInit }>();
  const calls = { match: 0, put: 0, delete: 0 };
  const cache = {
    async match(req: Request | string) {
      calls.match++;
      const e = store.get(typeof req === "string" ? req : req.url);
      return e ? new Response(e.body.slice(0), e.init) : undefined;
    },
    async put(req: Request | string, res: Response) {
      calls.put++;
      store.set(typeof req === "string" ? req : req.url, { body: await res.arrayBuffer(), init: { status: res.status, headers: [...res.headers] } });
    },
    async delete(req: Request | string) {
      calls.delete++;
      return store.delete(typeof req === "string" ? req : req.url);
    },
  } as unknown as Cache;
  return { cache, calls };
}

const body = (n: number) => new Response("x".repeat(n), { headers: { "content-length": String(n) } });

describe("memory tier", () => {
  it("answers repeated matches from memory within ttlMs, then asks the cache again", async () => {
    let now = 0;
    const { cache, calls } = countingCache();
    const tier = withMemoryTier(cache, { ttlMs: 1000, maxBytes: 10_000, maxObjectBytes: 1000, now: () => now });
    await tier.put("https://e.com/a", body(10));
    for (let i = 0; i < 5; i++) expect(await (await tier.match("https://e.com/a"))!.text()).toBe("x".repeat(10));
    expect(calls.match).toBe(0);
    now = 1500;
    expect(await tier.match("https://e.com/a")).toBeDefined();
    expect(calls.match).toBe(1);
  });

  it("delete reaches both tiers", async () => {
    const { cache } = countingCache();
    const tier = withMemoryTier(cache, { ttlMs: 1000, maxBytes: 10_000, maxObjectBytes: 1000, now: () => 0 });
    await tier.put("https://e.com/a", body(10));
    await tier.delete("https://e.com/a");
    expect(await tier.match("https://e.com/a")).toBeUndefined();
  });

  it("stays within its byte budget, evicting the least recently used, and skips large objects", async () => {
    const { cache, calls } = countingCache();
    // Each object costs its body plus headers plus a fixed overhead (~256 B): room for two.
    const tier = withMemoryTier(cache, { ttlMs: 60_000, maxBytes: 850, maxObjectBytes: 120, now: () => 0 });
    await tier.put("https://e.com/1", body(100));
    await tier.put("https://e.com/2", body(100));
    await tier.match("https://e.com/1"); // 1 is now most recent
    await tier.put("https://e.com/3", body(100)); // evicts 2
    const before = calls.match;
    await tier.match("https://e.com/1");
    await tier.match("https://e.com/3");
    expect(calls.match).toBe(before);
    await tier.match("https://e.com/2");
    expect(calls.match).toBe(before + 1);
    await tier.put("https://e.com/big", body(500));
    await tier.match("https://e.com/big");
    await tier.match("https://e.com/big");
    expect(calls.match).toBe(before + 3);
  });

  it("is the cache itself when turned off", () => {
    const { cache } = countingCache();
    expect(withMemoryTier(cache, { ttlMs: 0, maxBytes: 1000, maxObjectBytes: 100, now: () => 0 })).toBe(cache);
  });
});

describe("memory tier bounds", () => {
  it("empty bodies are not free: many of them stay within the byte budget", async () => {
    const { cache, calls } = countingCache();
    const tier = withMemoryTier(cache, { ttlMs: 60_000, maxBytes: 4096, maxObjectBytes: 1000, now: () => 0 });
    for (let i = 0; i < 200; i++) await tier.put(`https://e.com/r${i}`, new Response("", { status: 301, headers: { location: "/x/", "content-length": "0" } }));
    const before = calls.match;
    await tier.match("https://e.com/r0"); // long evicted
    expect(calls.match).toBe(before + 1);
  });
});
