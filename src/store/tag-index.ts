/**
 * The tag index in Workers KV (I/O): one invalidation timestamp per tag, nothing per entry.
 *
 * A purge writes `t:<tag> = <ms>`; an entry is purged when any of its tags (including the derived
 * URL / prefix / host / "*" tags) carries a timestamp at or after the moment its fill started.
 * So a purge never enumerates entries (a tag on 10,000 pages costs one write), a fill that began
 * before a purge counts as purged even if it is stored after it, and no list is ever
 * read-modified-written (KV has no compare-and-set and allows 1 write/s per key).
 *
 * Reads: one bulk get per hit at most (100 keys per KV operation), memoised in the isolate for
 * `memoMs`. Consistency: immediate in the isolate that purged; other isolates in that location
 * within `memoMs`; other locations within KV's propagation window (~60 s).
 */
import { logFault } from "../log.ts";
import { hashHex } from "../tags.ts";
import { MAX_ENTRY_LIFETIME_S } from "./entries.ts";

/** KV get(keys[]) reads at most 100 keys in one operation. */
export const KV_BULK_GET_MAX = 100;
/** KV keys are at most 512 bytes; longer tags are stored under their hash. */
export const KV_MAX_KEY_BYTES = 512;
/** KV allows one write per second to the same key. */
export const KV_WRITE_INTERVAL_MS = 1000;
/** Memo size bound (entries); beyond it the oldest half is dropped. */
const MEMO_MAX = 50_000;

export interface TagIndex {
  /**
   * Synchronous answer from this isolate's memo: the first of `tags` purged at or after `since`,
   * null when none was, or undefined when some tag's timestamp is not (freshly) remembered.
   */
  purgedTagFromMemo(tags: readonly string[], since: number): string | null | undefined;
  /** The first of `tags` purged at or after `since` (ms), or null. Throws only if KV does. */
  purgedTag(tags: readonly string[], since: number): Promise<string | null>;
  /** Record that `tags` were purged now; resolves when every write is done. Returns the time written. */
  invalidate(tags: readonly string[]): Promise<number>;
}

/** KV key for a tag's invalidation timestamp. Tags are printable ASCII, so length is byte length. */
export async function tagKey(tag: string): Promise<string> {
  const key = `t:${tag}`;
  return key.length <= KV_MAX_KEY_BYTES && /^[\x20-\x7e]*$/.test(key) ? key : `t#${await hashHex(tag)}`;
}

export function createTagIndex(kv: KVNamespace | undefined, memoMs: number, now: () => number): TagIndex {
  const memo = new Map<string, { ts: number | null; fetchedAt: number }>();
  const lastWrite = new Map<string, number>();

  function remember(key: string, ts: number | null) {
    if (memo.size >= MEMO_MAX) {
      let drop = MEMO_MAX / 2;
      for (const k of memo.keys()) {
        memo.delete(k);
        if (--drop === 0) break;
      }
    }
    memo.set(key, { ts, fetchedAt: now() });
  }

  return {
    purgedTagFromMemo(tags, since) {
      if (!kv || tags.length === 0) return null;
      const t = now();
      let purged: string | null = null;
      for (const tag of tags) {
        // Hashed keys (tags over ~500 bytes) are not looked up synchronously.
        const m = memo.get(`t:${tag}`);
        if (!m || t - m.fetchedAt >= memoMs) return undefined;
        if (purged === null && m.ts !== null && m.ts >= since) purged = tag;
      }
      return purged;
    },

    async purgedTag(tags, since) {
      if (!kv || tags.length === 0) return null;
      const keys = await Promise.all(tags.map(tagKey));
      const t = now();
      const missing: string[] = [];
      for (let i = 0; i < keys.length; i++) {
        const m = memo.get(keys[i]!);
        if (m && t - m.fetchedAt < memoMs) {
          if (m.ts !== null && m.ts >= since) return tags[i]!;
        } else {
          missing.push(keys[i]!);
        }
      }
      for (let i = 0; i < missing.length; i += KV_BULK_GET_MAX) {
        const batch = missing.slice(i, i + KV_BULK_GET_MAX);
        const values = await kv.get(batch, "text");
        for (const key of batch) {
          const raw = values.get(key);
          const ts = raw ? Number(raw) : null;
          remember(key, ts !== null && Number.isFinite(ts) ? ts : null);
        }
      }
      for (let i = 0; i < keys.length; i++) {
        const ts = memo.get(keys[i]!)?.ts;
        if (ts !== undefined && ts !== null && ts >= since) return tags[i]!;
      }
      return null;
    },

    async invalidate(tags) {
      if (!kv) throw new Error("the TAGS KV namespace is not bound");
      const keys = [...new Set(await Promise.all(tags.map(tagKey)))];
      // Respect 1 write/s per key: wait out the remainder for keys this isolate wrote just now.
      // The timestamp is taken after the wait, so it is never earlier than the purge request.
      const wait = Math.max(0, ...keys.map((k) => (lastWrite.get(k) ?? -Infinity) + KV_WRITE_INTERVAL_MS - now()));
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const at = now();
      await Promise.all(keys.map(async (key) => {
        lastWrite.set(key, at);
        await putWithRetry(kv, key, String(at));
        // Only a recorded purge is remembered: a failed write must not look applied in this isolate.
        remember(key, at);
      }));
      return at;
    },
  };
}

/** KV answers 429 when a key is written more than once a second (by any isolate): back off and retry. */
async function putWithRetry(kv: KVNamespace, key: string, value: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await kv.put(key, value, { expirationTtl: MAX_ENTRY_LIFETIME_S + 86400 });
      return;
    } catch (e) {
      if (attempt >= 3 || !/429|too many/i.test(String(e))) throw e;
      logFault("kv.put", e, { key, attempt });
      await new Promise((r) => setTimeout(r, KV_WRITE_INTERVAL_MS * 2 ** attempt));
    }
  }
}
