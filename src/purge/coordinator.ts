/**
 * The purge coordinator: one Durable Object per namespace, the strongly consistent record of
 * purges (durable-objects/api/sqlite-storage-api). The purge API hands it a purge and answers as
 * soon as the record is durable; the coordinator then publishes to Workers KV on its own alarm,
 * never on the caller's time, within KV's limits (kv/platform/limits: one write per second per
 * key), and retries there until KV has it:
 *
 * - merging: a tag's latest purge subsumes earlier ones, so a thousand purges of one tag within a
 *   second are one write, and the merge is exact;
 * - the journal (one key, at most one write a second): every tag purged in the last
 *   JOURNAL_WINDOW_MS, at most JOURNAL_MAX_TAGS of them;
 * - one key per tag, for entries older than the journal's window, PER_ALARM_TAG_WRITES an alarm;
 * - Cloudflare zone purges, when configured, from a queue with backoff.
 *
 * Each alarm stays within the Free plan's 50 subrequests.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { logEvent, logFault } from "../log.ts";
import { MAX_ENTRY_LIFETIME_S } from "../store/entries.ts";
import { cloudflareZonePurger, type ZonePurgeRequest } from "../zone-purge.ts";
import { encodeTagPurges, JOURNAL_KEY, type Journal } from "./journal.ts";
import { KV_LAG_MS, tagKey } from "./view.ts";

/** Purges this recent are in the journal (if there are not too many). */
export const JOURNAL_WINDOW_MS = 15 * 60_000;
/** Most tags in the journal; beyond, its window shrinks to the newest. */
export const JOURNAL_MAX_TAGS = 4000;
/**
 * The journal always covers at least this much of the recent past, whatever the count (up to
 * JOURNAL_HARD_MAX_TAGS): an isolate trusts a per-tag key only for purges older than its read
 * minus KV's lag, so a window cut any later would leave recent purges covered by neither.
 */
export const JOURNAL_MIN_SPAN_MS = KV_LAG_MS + 30_000;
/** Most tags the journal ever holds (a burst beyond: the window is cut, and hits read per-tag keys meanwhile). */
export const JOURNAL_HARD_MAX_TAGS = 40_000;
/** KV: one write per second to the same key. */
export const KV_WRITE_INTERVAL_MS = 1000;
/** Per-tag KV writes per alarm (with the journal and the zone purge calls: under 50 subrequests). */
export const PER_ALARM_TAG_WRITES = 40;
/** Zone purge calls per alarm, and attempts per queued call before it is dropped (logged). */
const PER_ALARM_ZONE_CALLS = 4;
const ZONE_ATTEMPTS = 8;
/** A tag whose KV key does not hold its latest purge times yet. */
const UNWRITTEN = "written != (hard_at || ';' || soft_at)";
/** Retry delay after KV refused a write. */
const RETRY_MS = 2000;

/** Where a zone purge goes (the API token comes from the caller, or the coordinator's own env). */
export interface ZoneTarget {
  apiBase: string;
  zoneId: string;
  token: string;
}

/** What the purge API hands over. */
export interface PurgeInput {
  tags: string[];
  soft: boolean;
  /** Also purge Cloudflare's zone cache: by these tags, or everything (null: zone purge not configured). */
  zone: { target: ZoneTarget; request: ZonePurgeRequest } | null;
}

export interface PurgeReceipt {
  /** The purge's time: entries whose fill began at or before it are purged. */
  at: number;
  /** Whether a zone purge was queued (false: not configured). */
  zoneQueued: boolean;
}

export class PurgeCoordinator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Zone purge API tokens by zone, as the purge API handed them over (not persisted). */
  private readonly tokens = new Map<string, string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS purges (tag TEXT PRIMARY KEY, hard_at INTEGER NOT NULL DEFAULT 0, soft_at INTEGER NOT NULL DEFAULT 0, changed_at INTEGER NOT NULL, written TEXT NOT NULL DEFAULT '', written_at INTEGER NOT NULL DEFAULT 0)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS purges_changed ON purges (changed_at)");
    // The tags whose KV key is behind (few, whatever the table's size): what each alarm looks for.
    this.sql.exec(`CREATE INDEX IF NOT EXISTS purges_unwritten ON purges (changed_at) WHERE ${UNWRITTEN}`);
    this.sql.exec("CREATE TABLE IF NOT EXISTS zone_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  }

  /** Record a purge (durable when this resolves) and make sure an alarm will publish it. */
  async record(input: PurgeInput): Promise<PurgeReceipt> {
    const at = Math.max(Date.now(), this.state("last_at") + 1);
    this.setState("last_at", at);
    for (const tag of new Set(input.tags)) {
      this.sql.exec(
        `INSERT INTO purges (tag, hard_at, soft_at, changed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (tag) DO UPDATE SET hard_at = max(hard_at, excluded.hard_at), soft_at = max(soft_at, excluded.soft_at), changed_at = excluded.changed_at`,
        tag, input.soft ? 0 : at, input.soft ? at : 0, at,
      );
    }
    const zoneQueued = input.zone !== null;
    if (input.zone) {
      const { token, ...where } = input.zone.target;
      // The token stays in memory (the env's CF_API_TOKEN after an eviction), never in storage.
      this.tokens.set(where.zoneId, token);
      this.sql.exec("INSERT INTO zone_queue (body, next_at) VALUES (?, ?)", JSON.stringify({ where, request: input.zone.request }), at);
    }
    await this.schedule(Math.max(at, this.state("journal_at") + KV_WRITE_INTERVAL_MS));
    return { at, zoneQueued };
  }

  /** What is recorded and what is still to be published (health, tests, the bench). */
  async status(): Promise<{ lastPurgeAt: number; journalAt: number; journalCurrent: boolean; unwrittenTags: number; zoneQueue: number }> {
    return {
      lastPurgeAt: this.state("last_at"),
      journalAt: this.state("journal_at"),
      // The last journal written holds every purge recorded so far.
      journalCurrent: this.state("journal_version") >= this.state("last_at"),
      unwrittenTags: this.unwritten(),
      zoneQueue: this.count("SELECT count(*) AS n FROM zone_queue"),
    };
  }

  /** Publish: the journal, then per-tag keys, then zone purges; come back for whatever is left. */
  override async alarm(): Promise<void> {
    const kv = this.env.TAGS;
    if (!kv) return logFault("coordinator", new Error("the TAGS KV namespace is not bound: purges are recorded but cannot be published"));
    let next = Infinity;
    try {
      next = Math.min(next, await this.publishJournal(kv));
      next = Math.min(next, await this.writeTagKeys(kv));
    } catch (e) {
      logFault("coordinator.kv", e);
      next = Date.now() + RETRY_MS;
    }
    next = Math.min(next, await this.sendZonePurges());
    this.prune();
    if (next < Infinity) await this.schedule(next);
  }

  /** Forget purges older than any entry can be (their KV keys have expired too), once written. */
  private prune(): void {
    this.sql.exec(`DELETE FROM purges WHERE changed_at < ? AND NOT (${UNWRITTEN})`, Date.now() - (MAX_ENTRY_LIFETIME_S + 86400) * 1000);
  }

  /** Write the journal if anything changed since it was last written; when to come back (Infinity: nothing to do). */
  private async publishJournal(kv: KVNamespace): Promise<number> {
    const t = Date.now();
    if (this.state("last_at") <= this.state("journal_version")) return Infinity;
    const due = this.state("journal_at") + KV_WRITE_INTERVAL_MS;
    if (t < due) return due;
    const version = this.state("last_at");
    // Every tag of the last JOURNAL_MIN_SPAN_MS, and older ones up to JOURNAL_MAX_TAGS in all.
    const recent = this.count(`SELECT count(*) AS n FROM purges WHERE changed_at >= ${t - JOURNAL_MIN_SPAN_MS}`);
    const max = Math.min(JOURNAL_HARD_MAX_TAGS, Math.max(JOURNAL_MAX_TAGS, recent));
    const rows = this.sql.exec<{ tag: string; hard_at: number; soft_at: number; changed_at: number }>(
      "SELECT tag, hard_at, soft_at, changed_at FROM purges WHERE changed_at >= ? ORDER BY changed_at DESC LIMIT ?",
      t - JOURNAL_WINDOW_MS, max + 1,
    ).toArray();
    // Too many: the window starts after the newest purge left out, so what it claims is complete.
    const windowStart = rows.length > max ? rows[max]!.changed_at + 1 : t - JOURNAL_WINDOW_MS;
    const journal: Journal = { v: 1, publishedAt: t, windowStart, tags: {} };
    for (const r of rows) if (r.changed_at >= windowStart) journal.tags[r.tag] = [r.hard_at, r.soft_at];
    await kv.put(JOURNAL_KEY, JSON.stringify(journal));
    this.setState("journal_at", t);
    this.setState("journal_version", version);
    return this.state("last_at") > version ? t + KV_WRITE_INTERVAL_MS : Infinity;
  }

  /** Per-tag keys not yet written with their latest value (each at most once a second). */
  private async writeTagKeys(kv: KVNamespace): Promise<number> {
    const t = Date.now();
    const rows = this.sql.exec<{ tag: string; hard_at: number; soft_at: number; written_at: number }>(
      `SELECT tag, hard_at, soft_at, written_at FROM purges WHERE ${UNWRITTEN} ORDER BY changed_at LIMIT ?`,
      PER_ALARM_TAG_WRITES * 4,
    ).toArray();
    const ready = rows.filter((r) => t - r.written_at >= KV_WRITE_INTERVAL_MS).slice(0, PER_ALARM_TAG_WRITES);
    await Promise.all(ready.map(async (r) => {
      const value = encodeTagPurges({ hard: r.hard_at, soft: r.soft_at });
      await kv.put(await tagKey(r.tag), value, { expirationTtl: MAX_ENTRY_LIFETIME_S + 86400 });
      this.sql.exec("UPDATE purges SET written = ?, written_at = ? WHERE tag = ?", value, t, r.tag);
    }));
    if (this.unwritten() === 0) return Infinity;
    // A full batch: more may be ready now (a new alarm is a new invocation, with its own subrequests).
    return ready.length === PER_ALARM_TAG_WRITES ? t : t + KV_WRITE_INTERVAL_MS;
  }

  /** Queued zone purges that are due; when to come back. */
  private async sendZonePurges(): Promise<number> {
    const t = Date.now();
    const due = this.sql.exec<{ seq: number; body: string; attempts: number }>(
      "SELECT seq, body, attempts FROM zone_queue WHERE next_at <= ? ORDER BY seq LIMIT ?", t, PER_ALARM_ZONE_CALLS,
    ).toArray();
    for (const item of due) {
      const { where, request } = JSON.parse(item.body) as { where: Omit<ZoneTarget, "token">; request: ZonePurgeRequest };
      const token = this.tokens.get(where.zoneId) ?? this.env.CF_API_TOKEN;
      const result = token
        ? await cloudflareZonePurger({ ...where, token }).purge(request, { attempts: 1 })
        : { ok: false, errors: ["no CF_API_TOKEN"] };
      if (result.ok || item.attempts + 1 >= ZONE_ATTEMPTS) {
        if (!result.ok) logFault("zone-purge", new Error(`dropped after ${ZONE_ATTEMPTS} attempts: ${result.errors.join("; ")}`));
        this.sql.exec("DELETE FROM zone_queue WHERE seq = ?", item.seq);
      } else {
        this.sql.exec("UPDATE zone_queue SET attempts = attempts + 1, next_at = ? WHERE seq = ?", t + 1000 * 2 ** item.attempts, item.seq);
      }
    }
    const next = this.sql.exec<{ n: number | null }>("SELECT min(next_at) AS n FROM zone_queue").one().n;
    if (due.length) logEvent("info", "zone-purge", { calls: due.length });
    return next === null ? Infinity : next;
  }

  private async schedule(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private state(k: string): number {
    return this.sql.exec<{ v: number }>("SELECT v FROM state WHERE k = ?", k).toArray()[0]?.v ?? 0;
  }

  private setState(k: string, v: number): void {
    this.sql.exec("INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }

  private unwritten(): number {
    return this.count(`SELECT count(*) AS n FROM purges WHERE ${UNWRITTEN}`);
  }

  private count(query: string): number {
    return this.sql.exec<{ n: number }>(query).one().n;
  }
}
