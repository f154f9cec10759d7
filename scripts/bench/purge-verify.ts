/**
 * After a purge run: did the purge coordinator record every purge the API answered 200 for, and
 * publish it? Read around the worker: the coordinator's `status()` (called by the bench wrapper,
 * wrapper.ts, on the one PURGES object, which Miniflare must list as the only one) and, through
 * Miniflare, the TAGS namespace (the journal and the per-tag keys): what every isolate reads. Also
 * timed: from the run's last 2xx response until the journal in KV holds every recorded purge, and
 * until every per-tag key is written.
 */
import type { Miniflare } from "miniflare";
import { decodeTagPurges, type Journal, JOURNAL_KEY, parseJournal } from "../../src/purge/journal.ts";
import { BenchError, expect } from "./common.ts";
import type { RunningWorker } from "./workers.ts";
import { COORDINATOR_STATUS_PATH } from "./wrapper.ts";

/** The per-tag key prefix (src/purge/view.ts tagKey: `t:<tag>` for short printable tags). */
export const TAG_KEY_PREFIX = "t:";
/** How often the coordinator and KV are polled while waiting (ms): the resolution of the publish times. */
const POLL_MS = 10;
/** The journal's full window (src/purge/coordinator.ts JOURNAL_WINDOW_MS; that module only loads in workerd). */
const JOURNAL_WINDOW_MS = 15 * 60_000;
/** Per-tag keys sampled and checked against the journal. */
const SAMPLE = 20;

/** PurgeCoordinator.status() (src/purge/coordinator.ts). */
export interface CoordinatorStatus {
  lastPurgeAt: number;
  journalAt: number;
  journalCurrent: boolean;
  unwrittenTags: number;
  zoneQueue: number;
}

/** What one purge run left behind, checked. */
export interface PurgeFindings {
  /** "unique": a new tag per request; "same": one tag for every request. */
  tags: "unique" | "same";
  /** The run's tag prefix (unique) or tag (same), lower-cased as the API stores tags. */
  tag: string;
  /** 2xx responses in the measured run. */
  answered: number;
  /** Purges the API logged as recorded from the end of the warm-up until publishing finished (includes ones in flight at the end). */
  logged: number;
  /** Per-tag keys written for the run's tags (unique: one per recorded purge; same: 1). */
  tagKeys: number;
  /** Tags in the published journal, how many are the run's, and whether its window was cut short (too many recent purges). */
  journalTags: number;
  journalRunTags: number;
  windowTrimmed: boolean;
  /** Per-tag keys sampled, and how many of them the journal holds with the same times (the rest are older than its window). */
  sampled: number;
  sampledInJournal: number;
  /** Last 2xx response -> the journal in KV holds every purge recorded (ms). */
  journalMs: number;
  /** Last 2xx response -> every per-tag key written (ms). */
  tagKeysMs: number;
}

/** The coordinator's status, from the bench wrapper's path. */
async function fetchStatus(workerUrl: string): Promise<CoordinatorStatus & { id: string }> {
  const res = await fetch(workerUrl + COORDINATOR_STATUS_PATH, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200) throw new BenchError(`purge: ${COORDINATOR_STATUS_PATH} answered ${res.status}: ${body.slice(0, 200)}`);
  return JSON.parse(body) as CoordinatorStatus & { id: string };
}

/**
 * The status of our worker's one purge coordinator (it exists once a purge was made): the object
 * the wrapper asks must be the only PURGES object, the one the worker's purges went to.
 */
export async function coordinatorStatus(worker: RunningWorker): Promise<() => Promise<CoordinatorStatus>> {
  const { id } = await fetchStatus(worker.url);
  const ids = await worker.mf.listDurableObjectIds("PURGES", worker.name);
  expect(ids.length === 1 && ids[0] === id, `purge: expected one PURGES object (the coordinator, ${id}), found ${ids.join(", ") || "none"}`);
  return () => fetchStatus(worker.url);
}

type Kv = Awaited<ReturnType<Miniflare["getKVNamespace"]>>;

async function readJournal(kv: Kv): Promise<Journal | null> {
  return parseJournal(await kv.get(JOURNAL_KEY, "text"));
}

/** The newest purge time in a journal (0: none). */
function newest(j: Journal | null): number {
  let t = 0;
  for (const [hard, soft] of Object.values(j?.tags ?? {})) t = Math.max(t, hard, soft);
  return t;
}

/** Every key with `prefix` (KV lists 1000 a page). */
async function listKeys(kv: Kv, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await kv.list({ prefix, ...(cursor ? { cursor } : {}) });
    for (const k of page.keys) names.push(k.name);
    if (page.list_complete) return names;
    cursor = page.cursor;
  }
}

/**
 * Poll until the journal in KV holds the newest recorded purge and no per-tag key is left to write;
 * the times are from `since` (the last 2xx response, epoch ms). A BenchError after `timeoutMs`.
 */
export async function waitPublished(status: () => Promise<CoordinatorStatus>, kv: Kv, since: number, timeoutMs: number): Promise<{ journalMs: number; tagKeysMs: number; journal: Journal; status: CoordinatorStatus }> {
  const deadline = Date.now() + timeoutMs;
  let journalMs = Number.NaN;
  for (;;) {
    const st = await status();
    if (Number.isNaN(journalMs) && st.journalCurrent) {
      const j = await readJournal(kv);
      if (j && newest(j) >= st.lastPurgeAt) journalMs = Date.now() - since;
    }
    if (!Number.isNaN(journalMs) && st.unwrittenTags === 0) {
      const journal = await readJournal(kv);
      if (!journal) throw new BenchError("purge: the journal vanished from KV");
      return { journalMs, tagKeysMs: Date.now() - since, journal, status: st };
    }
    if (Date.now() > deadline) {
      throw new BenchError(`purge: not published ${timeoutMs / 1000} s after the run (journal ${Number.isNaN(journalMs) ? "not current" : "current"}, `
        + `${st.unwrittenTags} per-tag keys unwritten)`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Wait until the coordinator has published everything recorded so far (e.g. the warm-up's purges,
 * so that the measured run starts with nothing queued); how long that took, ms.
 */
export async function waitIdle(worker: RunningWorker, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await waitPublished(await coordinatorStatus(worker), await worker.mf.getKVNamespace("TAGS", worker.name), t0, timeoutMs);
  return Date.now() - t0;
}

/** Up to `n` items spread evenly over `items`. */
function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)] as T);
}

/**
 * Check per-tag keys against the journal: each sampled key holds a hard purge time, and the journal
 * holds the same times for every sampled tag purged inside its window. Returns how many it holds.
 */
async function checkSample(kv: Kv, keys: string[], journal: Journal): Promise<number> {
  let inJournal = 0;
  for (const key of keys) {
    const tag = key.slice(TAG_KEY_PREFIX.length);
    const p = decodeTagPurges(await kv.get(key, "text"));
    expect(p !== undefined && p.hard > 0, `purge: per-tag key ${key} holds no hard purge time`);
    const entry = journal.tags[tag];
    if (p && p.hard >= journal.windowStart) {
      expect(entry?.[0] === p.hard && entry[1] === p.soft, `purge: the journal has ${JSON.stringify(entry)} for ${tag}, its per-tag key ${p.hard};${p.soft}`);
      inJournal++;
    }
  }
  return inJournal;
}

/** Inputs of `verifyPurges`: the run and what was counted around it. */
export interface PurgeRun {
  tags: "unique" | "same";
  /** The run's tag prefix (unique) or tag (same), lower-cased. */
  tag: string;
  answered: number;
  connections: number;
  lastResponseAt: number;
  /** Purge log lines so far (called again once publishing is done). */
  logged: () => number;
  loggedBefore: number;
}

/**
 * Wait for the coordinator to publish, then check: the API logged at least one recorded purge per
 * 2xx; unique tags: one per-tag key per answered purge (plus at most one per connection in flight
 * when the run stopped), a sample of them in the journal with the same times, the newest always;
 * one tag: its key and journal entry hold the last recorded purge.
 */
export async function verifyPurges(worker: RunningWorker, run: PurgeRun, timeoutMs: number): Promise<PurgeFindings> {
  const status = await coordinatorStatus(worker);
  const kv = await worker.mf.getKVNamespace("TAGS", worker.name);
  const published = await waitPublished(status, kv, run.lastResponseAt, timeoutMs);
  const { journal } = published;
  const logged = run.logged() - run.loggedBefore;
  const where = `purge (${run.tags} tags) @${run.connections}`;
  expect(logged >= run.answered, `${where}: ${run.answered} purges answered 2xx, but only ${logged} were logged as recorded`);
  const keys = (await listKeys(kv, TAG_KEY_PREFIX + run.tag)).sort();
  if (run.tags === "unique") {
    expect(keys.length >= run.answered && keys.length <= run.answered + run.connections,
      `${where}: ${keys.length} per-tag keys for ${run.answered} answered purges (expected ${run.answered} to ${run.answered + run.connections})`);
  } else {
    expect(keys.length === 1, `${where}: expected 1 per-tag key for the run's tag, found ${keys.length}`);
    const p = decodeTagPurges(await kv.get(keys[0] ?? "", "text"));
    expect(p?.hard === published.status.lastPurgeAt && journal.tags[run.tag]?.[0] === p.hard,
      `${where}: the tag's key (${p?.hard}) and journal entry (${journal.tags[run.tag]?.[0]}) should hold the last purge (${published.status.lastPurgeAt})`);
  }
  // Every run tag in the journal has its per-tag key; the newest is the last purge recorded, and always sampled.
  const runTags = Object.keys(journal.tags).filter((t) => t.startsWith(run.tag));
  const keySet = new Set(keys);
  const missing = runTags.filter((t) => !keySet.has(TAG_KEY_PREFIX + t));
  expect(runTags.length > 0 && missing.length === 0, `${where}: ${runTags.length} of the run's tags in the journal, ${missing.length} of them without a per-tag key`);
  const last = runTags.reduce((a, b) => ((journal.tags[b]?.[0] ?? 0) > (journal.tags[a]?.[0] ?? 0) ? b : a));
  expect(journal.tags[last]?.[0] === published.status.lastPurgeAt, `${where}: the journal's newest run tag is not the last purge recorded`);
  const sample = [...new Set([...spread(keys, SAMPLE - 1), TAG_KEY_PREFIX + last])];
  const sampledInJournal = await checkSample(kv, sample, journal);
  return {
    tags: run.tags, tag: run.tag, answered: run.answered, logged, tagKeys: keys.length,
    journalTags: Object.keys(journal.tags).length, journalRunTags: runTags.length,
    windowTrimmed: journal.windowStart !== journal.publishedAt - JOURNAL_WINDOW_MS,
    sampled: sample.length, sampledInJournal, journalMs: published.journalMs, tagKeysMs: published.tagKeysMs,
  };
}
