/**
 * The read side of purges, per isolate (I/O): is an entry purged? Answered from the journal the
 * coordinator publishes in KV (read at most once per `pollMs`, in the background), from this
 * isolate's own purges (honoured at once), and, only for entries older than the journal's window,
 * from per-tag keys (read once, then trusted while the journal covers what they may have missed).
 *
 * KV cost: one journal read per isolate per `pollMs` while it serves traffic; per hit, none, except
 * the first check of an entry older than the journal's window in this isolate (one bulk read of its
 * tags, ≤ 100 keys an operation; while a burst of purges has cut the journal's window short, at
 * most once per `pollMs` per set of tags, concurrent checks sharing the read). Nothing
 * proportional to the pages and tags served per hit.
 */
import { hashHex } from "../tags.ts";
import { decodeTagPurges, JOURNAL_KEY, type Journal, judgeTag, NOT_PURGED, parseJournal, type PurgeVerdict, type TagPurges } from "./journal.ts";

/** KV get(keys[]) reads at most 100 keys in one operation (kv/api/read-key-value-pairs). */
export const KV_BULK_GET_MAX = 100;
/** KV keys are at most 512 bytes (kv/platform/limits); longer tags are stored under their hash. */
export const KV_MAX_KEY_BYTES = 512;
/** The shortest KV cacheTtl (kv/platform/limits, since 2026-01-30): how stale a location's read may be on top of propagation. */
export const KV_MIN_CACHE_TTL_S = 30;
/**
 * How long a write may take to be seen everywhere (kv/concepts/how-kv-works: "60 seconds or more"),
 * plus the read cache: a per-tag value read at time R is trusted to hold every purge up to R minus this.
 */
export const KV_LAG_MS = 120_000;
/** Bounds on what an isolate remembers. */
const TAG_MEMO_MAX = 50_000;
const LOCAL_MAX = 10_000;

/** KV key of a tag's latest purge times. Tags are printable ASCII, so length is byte length. */
export async function tagKey(tag: string): Promise<string> {
  const key = `t:${tag}`;
  return key.length <= KV_MAX_KEY_BYTES && /^[\x20-\x7e]*$/.test(key) ? key : `t#${await hashHex(tag)}`;
}

export interface PurgeView {
  /** The verdict when this isolate can give it without KV (the common hit); undefined otherwise. */
  checkNow(tags: readonly string[], since: number): PurgeVerdict | undefined;
  /** The verdict, reading KV when needed. Throws only if KV does. */
  check(tags: readonly string[], since: number): Promise<PurgeVerdict>;
  /** Refresh the journal if it is older than the poll interval; resolves when done (for waitUntil). */
  refresh(): Promise<void> | null;
  /** A purge this isolate recorded: honoured here at once. */
  recordLocal(tags: readonly string[], at: number, soft: boolean): void;
  /** The journal this isolate holds (explain, health). */
  journal(): { publishedAt: number; windowStart: number; tags: number; fetchedAt: number } | null;
}

interface Held<T> {
  value: T;
  at: number;
}

/**
 * No journal in KV: the coordinator has never published one, so nothing was ever purged (or the
 * first one has not reached this location yet, which is the propagation bound anyway). Entries from
 * before the coordinator existed are left behind by a CACHE_VERSION bump (README, "Upgrading").
 */
const NOTHING_PURGED: Journal = { v: 1, publishedAt: 0, windowStart: 0, tags: {} };

/** What a view holds: the journal, this isolate's own purges, per-tag values read recently. */
interface ViewState {
  journal: Held<Journal> | null;
  local: Map<string, TagPurges>;
  tagMemo: Map<string, Held<TagPurges | undefined>>;
  /** Per-tag reads in flight, by tag set. */
  reading: Map<string, Promise<void>>;
}

export function createPurgeView(kv: KVNamespace | undefined, pollMs: number, now: () => number): PurgeView {
  const s: ViewState = { journal: null, local: new Map(), tagMemo: new Map(), reading: new Map() };
  let journalText: string | null = null;
  let refreshing: Promise<void> | null = null;

  const refreshJournal = () => (refreshing ??= (async () => {
    try {
      const text = await kv!.get(JOURNAL_KEY, { type: "text", cacheTtl: KV_MIN_CACHE_TTL_S });
      if (text !== journalText || !s.journal) s.journal = { value: parseJournal(text) ?? NOTHING_PURGED, at: now() };
      else s.journal.at = now();
      journalText = text;
    } finally {
      refreshing = null;
    }
  })());

  return {
    checkNow(tags, since) {
      if (!kv) return judgeLocal(s.local, tags, since);
      if (!s.journal) return undefined;
      const { verdict, complete } = fromJournal(s, tags, since);
      if (verdict.hard !== null || complete) return verdict;
      return fromTagMemo(s, tags, since, verdict, now(), pollMs);
    },

    async check(tags, since) {
      if (!kv) return judgeLocal(s.local, tags, since);
      if (!s.journal) await refreshJournal();
      const quick = this.checkNow(tags, since);
      if (quick !== undefined) return quick;
      // Concurrent checks of the same tags share one read.
      const id = tags.join("\n");
      let reading = s.reading.get(id);
      if (!reading) {
        reading = readTagKeys(kv, s, tags, now()).finally(() => s.reading.delete(id));
        s.reading.set(id, reading);
      }
      await reading;
      const { verdict } = fromJournal(s, tags, since);
      return fromTagMemo(s, tags, since, verdict, now(), Infinity) ?? verdict;
    },

    refresh() {
      if (!kv || (s.journal && now() - s.journal.at < pollMs)) return null;
      return refreshJournal();
    },

    recordLocal(tags, at, soft) {
      if (s.local.size >= LOCAL_MAX) s.local.clear();
      for (const tag of tags) {
        const p = s.local.get(tag) ?? { hard: 0, soft: 0 };
        s.local.set(tag, soft ? { ...p, soft: Math.max(p.soft, at) } : { ...p, hard: Math.max(p.hard, at) });
      }
    },

    journal() {
      const j = s.journal;
      return j ? { publishedAt: j.value.publishedAt, windowStart: j.value.windowStart, tags: Object.keys(j.value.tags).length, fetchedAt: j.at } : null;
    },
  };
}

/** Local purges and the journal; `complete` when they suffice for an entry filled at `since`. */
function fromJournal(s: ViewState, tags: readonly string[], since: number): { verdict: PurgeVerdict; complete: boolean } {
  let verdict = NOT_PURGED;
  const j = s.journal?.value ?? null;
  for (const tag of tags) {
    verdict = judgeTag(tag, s.local.get(tag), since, verdict);
    const entry = j?.tags[tag];
    if (entry) verdict = judgeTag(tag, { hard: entry[0], soft: entry[1] }, since, verdict);
  }
  return { verdict, complete: j !== null && since >= j.windowStart };
}

/**
 * Per-tag values remembered: trusted for good once read late enough that the journal covers what
 * they may miss (KV's lag); otherwise (the journal's window was cut short by a burst of purges)
 * for `pollMs` after the read, since reading again sooner would not close that gap either.
 */
function fromTagMemo(s: ViewState, tags: readonly string[], since: number, verdict: PurgeVerdict, at: number, pollMs: number): PurgeVerdict | undefined {
  const windowStart = s.journal?.value.windowStart ?? Infinity;
  let v = verdict;
  for (const tag of tags) {
    const m = s.tagMemo.get(tag);
    if (!m || (m.at - KV_LAG_MS < windowStart && at - m.at >= pollMs)) return undefined;
    v = judgeTag(tag, m.value, since, v);
  }
  return v;
}

/** An entry older than the journal's window: its tags' own keys, read in bulk and remembered. */
async function readTagKeys(kv: KVNamespace, s: ViewState, tags: readonly string[], at: number): Promise<void> {
  const keys = await Promise.all(tags.map(tagKey));
  for (let i = 0; i < keys.length; i += KV_BULK_GET_MAX) {
    const batch = keys.slice(i, i + KV_BULK_GET_MAX);
    const values = await kv.get(batch, "text");
    batch.forEach((key, j) => remember(s.tagMemo, tags[i + j]!, decodeTagPurges(values.get(key) ?? null), at));
  }
}

/** Without KV only this isolate's own purges are known. */
function judgeLocal(local: Map<string, TagPurges>, tags: readonly string[], since: number): PurgeVerdict {
  let v = NOT_PURGED;
  for (const tag of tags) v = judgeTag(tag, local.get(tag), since, v);
  return v;
}

function remember(memo: Map<string, Held<TagPurges | undefined>>, tag: string, value: TagPurges | undefined, at: number): void {
  if (memo.size >= TAG_MEMO_MAX) {
    let drop = TAG_MEMO_MAX / 2;
    for (const k of memo.keys()) {
      memo.delete(k);
      if (--drop === 0) break;
    }
  }
  memo.set(tag, { value, at });
}
