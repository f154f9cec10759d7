/**
 * The purge check every use of a stored entry goes through (I/O): was any of its tags purged at
 * or after its fill began, hard (never serve it) or soft (serve it only as stale)? KV trouble or
 * slowness serves the entry (logged): purging is about freshness, and KV trouble must not take
 * the site down.
 */
import { logFault } from "../log.ts";
import { NOT_PURGED, type PurgeVerdict } from "../purge/journal.ts";
import type { Runtime } from "../runtime.ts";
import type { EntryMeta } from "../store/entries.ts";

/**
 * The verdict for this entry. Synchronous when the isolate's journal and memos suffice (the common
 * hit: no KV, no timer, no promise); a promise otherwise. `defer` receives the background refresh
 * of the journal when it is due (the caller's waitUntil).
 */
export function purgeVerdict(meta: EntryMeta, rt: Runtime, key: string, defer?: (p: Promise<unknown>) => void): PurgeVerdict | Promise<PurgeVerdict> {
  const refresh = rt.purges.refresh();
  if (refresh) defer?.(refresh.catch((e: unknown) => logFault("kv.get", e, { key: "journal" })));
  const known = rt.purges.checkNow(meta.tags, meta.fillStartedAt);
  return known !== undefined ? known : fromKv(meta, rt, key);
}

/** Whether the entry may be used at all (hard-purged entries may not, not even as a stale fallback). */
export async function notHardPurged(meta: EntryMeta, rt: Runtime, key: string): Promise<boolean> {
  return (await purgeVerdict(meta, rt, key)).hard === null;
}

async function fromKv(meta: EntryMeta, rt: Runtime, key: string): Promise<PurgeVerdict> {
  const limit = rt.config.tagCheckTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), limit); });
  try {
    const r = await Promise.race([rt.purges.check(meta.tags, meta.fillStartedAt), timeout]);
    if (r !== "timeout") return r;
    logFault("kv.get", new Error(`purge check took over ${limit} ms`), { key });
    return NOT_PURGED;
  } catch (e) {
    logFault("kv.get", e, { key });
    return NOT_PURGED;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
