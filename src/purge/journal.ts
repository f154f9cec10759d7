/**
 * What the purge coordinator publishes to Workers KV, and how an entry is judged against it (pure).
 *
 * A purge is a fact "tag T was purged at time P" (hard: never serve what was filled before P;
 * soft: serve it only as stale, revalidated first). Times only grow, so a tag's latest hard and
 * soft times are all anyone needs: an entry filled at F is purged by tag T when T's latest purge
 * is at or after F. Two kinds of KV key hold these facts:
 *
 * - the journal (one key, rewritten at most once a second): every tag purged since `windowStart`,
 *   with its latest times; an entry filled at or after `windowStart` is judged by it alone;
 * - one key per tag (`t:<tag>`): its latest times, for entries older than the journal's window.
 */

/** A tag's latest purge times (ms; 0: never). */
export interface TagPurges {
  hard: number;
  soft: number;
}

export interface Journal {
  v: 1;
  /** When the coordinator wrote it. */
  publishedAt: number;
  /** Every purge at or after this time is in `tags`. */
  windowStart: number;
  tags: Record<string, [number, number]>;
}

/** The KV key of the journal. */
export const JOURNAL_KEY = "j:v1";

/** What an entry's tags say: purged hard (by a tag), soft, or neither. */
export interface PurgeVerdict {
  hard: string | null;
  soft: string | null;
}

export const NOT_PURGED: PurgeVerdict = Object.freeze({ hard: null, soft: null });

/** Judge one tag's purges against an entry filled at `since`. */
export function judgeTag(tag: string, p: TagPurges | undefined, since: number, into: PurgeVerdict): PurgeVerdict {
  if (!p) return into;
  const hard = into.hard ?? (p.hard >= since && p.hard > 0 ? tag : null);
  const soft = into.soft ?? (p.soft >= since && p.soft > 0 ? tag : null);
  return hard === into.hard && soft === into.soft ? into : { hard, soft };
}

/** Parse a journal read from KV; null when it is not one (missing, damaged, another version). */
export function parseJournal(text: string | null): Journal | null {
  if (!text) return null;
  try {
    const j = JSON.parse(text) as Journal;
    return j && j.v === 1 && typeof j.windowStart === "number" && j.tags && typeof j.tags === "object" ? j : null;
  } catch {
    return null;
  }
}

/** A per-tag KV value: "hard;soft" (a bare number, as written before soft purges existed, is hard). */
export function encodeTagPurges(p: TagPurges): string {
  return `${p.hard};${p.soft}`;
}

export function decodeTagPurges(text: string | null): TagPurges | undefined {
  if (!text) return undefined;
  const [hard = "0", soft = "0"] = text.split(";");
  const h = Number(hard);
  const s = Number(soft);
  return Number.isFinite(h) && Number.isFinite(s) ? { hard: h, soft: s } : undefined;
}
