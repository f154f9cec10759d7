/**
 * The purge check every use of a stored entry goes through (I/O): was any of its tags purged at
 * or after its fill began? KV trouble or slowness serves the entry (logged): purging is about
 * freshness, and KV trouble must not take the site down.
 */
import { logFault } from "../log.ts";
import type { Runtime } from "../runtime.ts";
import type { EntryMeta } from "../store/entries.ts";

/**
 * The tag that purged this entry, or null. Synchronous when this isolate remembers every tag's
 * timestamp (the common hit: no KV, no timer, no promise); a promise otherwise.
 */
export function purgedBy(meta: EntryMeta, rt: Runtime, key: string): string | null | Promise<string | null> {
  const known = rt.tagIndex.purgedTagFromMemo(meta.tags, meta.fillStartedAt);
  return known !== undefined ? known : purgedByKv(meta, rt, key);
}

async function purgedByKv(meta: EntryMeta, rt: Runtime, key: string): Promise<string | null> {
  const limit = rt.config.tagCheckTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), limit); });
  try {
    const r = await Promise.race([rt.tagIndex.purgedTag(meta.tags, meta.fillStartedAt), timeout]);
    if (r !== "timeout") return r;
    logFault("kv.get", new Error(`purge check took over ${limit} ms`), { key });
    return null;
  } catch (e) {
    logFault("kv.get", e, { key });
    return null;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
