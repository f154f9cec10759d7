import { describe, expect, it } from "vitest";
import { memoryTier } from "./memory.ts";
import { sampleEntry, T0 } from "./tier.contract.ts";

const body = (n: number) => new Uint8Array(n).fill(120);

describe("memory tier", () => {
  it("holds an object at most ttlMs, then forgets it", async () => {
    let now = T0;
    const tier = memoryTier({ ttlMs: 1000, maxBytes: 10_000, maxObjectBytes: 1000, now: () => now })!;
    await tier.put("k", sampleEntry(body(10)));
    expect(await tier.get("k")).not.toBeNull();
    now += 1500;
    expect(await tier.get("k")).toBeNull();
  });

  it("stays within its byte budget, evicting the least recently used, and skips large objects", async () => {
    // Each object costs its body plus headers, tags and a fixed overhead (~256 B): room for two.
    const tier = memoryTier({ ttlMs: 60_000, maxBytes: 1200, maxObjectBytes: 120, now: () => T0 })!;
    await tier.put("1", sampleEntry(body(100)));
    await tier.put("2", sampleEntry(body(100)));
    await tier.get("1"); // 1 is now most recent
    await tier.put("3", sampleEntry(body(100))); // evicts 2
    expect(await tier.get("1")).not.toBeNull();
    expect(await tier.get("3")).not.toBeNull();
    expect(await tier.get("2")).toBeNull();
    await tier.put("big", sampleEntry(body(500)));
    expect(await tier.get("big")).toBeNull();
  });

  it("counts empty objects against its budget (many of them stay within it)", async () => {
    const tier = memoryTier({ ttlMs: 60_000, maxBytes: 4096, maxObjectBytes: 1000, now: () => T0 })!;
    for (let i = 0; i < 200; i++) await tier.put(`r${i}`, sampleEntry(new Uint8Array(), {}, 301, { location: "/x/" }));
    expect(await tier.get("r0")).toBeNull(); // long evicted
    expect(await tier.get("r199")).not.toBeNull();
  });

  it("holds only bytes, never a stream it would have to read", async () => {
    const tier = memoryTier({ ttlMs: 60_000, maxBytes: 4096, maxObjectBytes: 1000, now: () => T0 })!;
    await tier.put("s", { ...sampleEntry(body(10)), body: new Response("0123456789").body });
    expect(await tier.get("s")).toBeNull();
  });

  it("is off when its ttl or size is 0", () => {
    expect(memoryTier({ ttlMs: 0, maxBytes: 1000, maxObjectBytes: 100, now: () => 0 })).toBeNull();
    expect(memoryTier({ ttlMs: 1000, maxBytes: 0, maxObjectBytes: 100, now: () => 0 })).toBeNull();
  });
});
