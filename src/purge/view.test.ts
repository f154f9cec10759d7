/**
 * The purge view's KV cost when a burst of purges has cut the journal's window short: hits of an
 * older entry read its tags' keys at most once per poll interval, concurrent checks sharing the read.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../env.ts";
import { JOURNAL_KEY, NOT_PURGED } from "./journal.ts";
import { createPurgeView } from "./view.ts";

const TAGS = (env as unknown as Env).TAGS!;

function countingKv(kv: KVNamespace) {
  const counts = { get: 0, keys: 0 };
  const binding = {
    get: (key: string | string[], opts?: unknown) => {
      counts.get++;
      counts.keys += Array.isArray(key) ? key.length : 1;
      return (kv.get as (k: unknown, o?: unknown) => Promise<unknown>)(key, opts);
    },
  };
  return { counts, binding: binding as unknown as KVNamespace };
}

describe("purge view: a journal window cut short by a burst of purges", () => {
  it("an older entry's tags are read once per poll interval, not once per hit", async () => {
    let now = Date.now();
    // The coordinator cut the window 5 s ago (more than JOURNAL_MAX_TAGS tags purged recently).
    await TAGS.put(JOURNAL_KEY, JSON.stringify({ v: 1, publishedAt: now, windowStart: now - 5000, tags: {} }));
    await TAGS.put("t:old-a", `${now - 3 * 3_600_000};0`); // purged before the entry was filled
    const kv = countingKv(TAGS);
    const view = createPurgeView(kv.binding, 1000, () => now);
    const filled = now - 2 * 3_600_000;
    const tags = ["old-a", "old-b"];
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => view.check(tags, filled)));
    expect(verdicts.every((v) => v.hard === null && v.soft === null)).toBe(true);
    expect(kv.counts).toEqual({ get: 2, keys: 3 }); // the journal, and one bulk read shared by 50 checks
    for (let i = 0; i < 50; i++) expect(view.checkNow(tags, filled)).toEqual(NOT_PURGED);
    expect(kv.counts.get).toBe(2);
    // A purge of one of its tags, published later: seen at the next read, one interval on.
    await TAGS.put("t:old-b", `${now};0`);
    now += 1000;
    expect(view.checkNow(tags, filled)).toBeUndefined();
    expect((await view.check(tags, filled)).hard).toBe("old-b");
    expect(kv.counts.get).toBe(3);
  });
});
