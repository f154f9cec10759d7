/**
 * The contract every storage tier passes (memory, Cache API, shield): it stores and returns
 * objects byte for byte, with their metadata, and nothing else. Run by tier.test.ts per tier.
 */
import { describe, expect, it } from "vitest";
import { bodyBytes, type EntryMeta, type StoredEntry } from "./entries.ts";
import type { Tier } from "./tier.ts";

export const T0 = Date.parse("2026-11-22T10:00:00Z");

/** An entry as a fill would store it. */
export function sampleEntry(body: Uint8Array | null, over: Partial<EntryMeta> = {}, status = 200, headers: Record<string, string> = {}): StoredEntry {
  const meta: EntryMeta = {
    storedAt: T0, fillStartedAt: T0 - 5, ttl: 300, initialAge: 2, rule: "html", tags: ["*", "h:e.com", "post_1"],
    url: "https://e.com/a", cacheControl: "public, max-age=300", swr: 10, sie: 86400, strict: false, keepUntil: T0 + 3_600_000, ...over,
  };
  const h = new Headers({
    "content-type": "text/html; charset=utf-8", etag: '"v1"', "cache-control": "max-age=300", "x-origin": "yes",
    date: new Date(T0).toUTCString(), ...headers,
  });
  if (body) h.set("content-length", String(body.byteLength));
  return { kind: "entry", status, headers: h, body, size: body?.byteLength ?? 0, meta };
}

const bytes = (s: string) => new TextEncoder().encode(s);

/** The tier under test and a way to move its clock. */
export interface TierUnderTest {
  tier: Tier;
  setNow(ms: number): void;
}

const key = () => `https://e.com/__ec/v=contract/${crypto.randomUUID()}`;

export function tierContract(name: string, make: () => TierUnderTest): void {
  describe(`tier contract: ${name}`, () => {
    roundTrips(make);
    edges(make);
    if (make().tier.putStream) streams(make);
  });
}

/** A stream of `n` bytes (a repeating pattern) in chunks of `chunk`. */
function patterned(n: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= n) return c.close();
      const len = Math.min(chunk, n - sent);
      c.enqueue(Uint8Array.from({ length: len }, (_, i) => (sent + i) % 251));
      sent += len;
    },
  });
}

/** Tiers that take large bodies as streams: whole bodies only, their length verified. */
function streams(make: () => TierUnderTest): void {
  const MiB = 1024 * 1024;
  it("stores a streamed body of known length and returns it byte for byte", async () => {
    const { tier } = make();
    const k = key();
    const n = 2 * MiB + 3;
    await tier.putStream!(k, { ...sampleEntry(null), size: n }, patterned(n), 4 * MiB);
    const got = (await tier.get(k)) as StoredEntry;
    const b = await bodyBytes(got);
    expect(b.byteLength).toBe(n);
    expect(b[n - 1]).toBe((n - 1) % 251);
  });

  it("stores a streamed body of unknown length within the limit", async () => {
    const { tier } = make();
    const k = key();
    await tier.putStream!(k, { ...sampleEntry(null), size: -1 }, patterned(MiB + 5), 4 * MiB);
    expect((await bodyBytes((await tier.get(k)) as StoredEntry)).byteLength).toBe(MiB + 5);
  });

  it("rejects, and keeps nothing, when the body is shorter than its length or over the limit", async () => {
    const { tier } = make();
    const short = key();
    await expect(tier.putStream!(short, { ...sampleEntry(null), size: 2 * MiB }, patterned(MiB), 4 * MiB)).rejects.toThrow();
    expect(await tier.get(short)).toBeNull();
    const long = key();
    await expect(tier.putStream!(long, { ...sampleEntry(null), size: -1 }, patterned(3 * MiB), 2 * MiB)).rejects.toThrow();
    expect(await tier.get(long)).toBeNull();
  });
}

function roundTrips(make: () => TierUnderTest): void {
  it("get of a missing key is null", async () => {
    expect(await make().tier.get(key())).toBeNull();
  });

  it("round-trips status, headers, body bytes and metadata", async () => {
    const { tier } = make();
    const k = key();
    const body = new Uint8Array([0, 1, 2, 255, 254, 10, 13, 0]);
    const e = sampleEntry(body);
    await tier.put(k, e);
    const got = (await tier.get(k)) as StoredEntry;
    expect(got.kind).toBe("entry");
    expect(got.status).toBe(200);
    expect(got.meta).toEqual(e.meta);
    expect(got.size).toBe(body.byteLength);
    // Exactly the headers put: nothing the tier adds (the Cache API's Age, say) and nothing lost.
    expect([...got.headers].sort()).toEqual([...e.headers].sort());
    expect([...(await bodyBytes(got))]).toEqual([...body]);
  });

  it("gives independent bodies to each reader", async () => {
    const { tier } = make();
    const k = key();
    await tier.put(k, sampleEntry(bytes("hello")));
    const a = (await tier.get(k)) as StoredEntry;
    const b = (await tier.get(k)) as StoredEntry;
    expect(new TextDecoder().decode(await bodyBytes(a))).toBe("hello");
    expect(new TextDecoder().decode(await bodyBytes(b))).toBe("hello");
  });

  it("replaces on put, and delete says whether there was an object", async () => {
    const { tier } = make();
    const k = key();
    await tier.put(k, sampleEntry(bytes("one")));
    await tier.put(k, sampleEntry(bytes("two")));
    expect(new TextDecoder().decode(await bodyBytes((await tier.get(k)) as StoredEntry))).toBe("two");
    expect(await tier.delete(k)).toBe(true);
    expect(await tier.get(k)).toBeNull();
    expect(await tier.delete(k)).toBe(false);
  });

}

function edges(make: () => TierUnderTest): void {
  it("round-trips empty bodies and null-body statuses (204)", async () => {
    const { tier } = make();
    const k1 = key();
    const k2 = key();
    await tier.put(k1, sampleEntry(new Uint8Array(), {}, 301, { location: "/b" }));
    await tier.put(k2, sampleEntry(null, {}, 204));
    const moved = (await tier.get(k1)) as StoredEntry;
    expect(moved.status).toBe(301);
    expect(moved.headers.get("location")).toBe("/b");
    expect((await bodyBytes(moved)).byteLength).toBe(0);
    const empty = (await tier.get(k2)) as StoredEntry;
    expect(empty.status).toBe(204);
    expect((await bodyBytes(empty)).byteLength).toBe(0);
  });

  it("never returns an object past its keepUntil", async () => {
    const t = make();
    const k = key();
    await t.tier.put(k, sampleEntry(bytes("x"), { keepUntil: T0 + 2000 }));
    t.setNow(T0 + 2500);
    expect(await t.tier.get(k)).toBeNull();
  });

  it("keeps keys apart (a key and its prefix)", async () => {
    const { tier } = make();
    const k = key();
    await tier.put(k, sampleEntry(bytes("long")));
    await tier.put(`${k}x`, sampleEntry(bytes("longer")));
    expect(new TextDecoder().decode(await bodyBytes((await tier.get(k)) as StoredEntry))).toBe("long");
  });
}
