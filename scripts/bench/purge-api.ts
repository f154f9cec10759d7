/**
 * The purge API under load: `POST /__edge/purge` with the bench's token and a Cloudflare-shaped
 * body, driven by autocannon like every other target (same connections, duration, warm-up). Two
 * runs per connection count:
 *   purge       a new tag per request (autocannon's "[<id>]" in the body): every purge is a new row
 *               for the coordinator and, later, a per-tag KV key;
 *   purge-1tag  the same tag in every request: the coordinator merges them (one key, the journal).
 * A 200 means the coordinator has durably recorded the purge. The warm-up's purges are published
 * before the measured run starts (nothing queued at the coordinator). Each run is then checked
 * (purge-verify.ts): recorded, and published to KV by the coordinator's alarm, with the time that
 * took. The KV operations the worker itself makes during the run are counted too (they should be
 * none: the coordinator, whose writes are not counted, does the publishing).
 */
import { BENCH_PURGE_TOKEN } from "./bindings.ts";
import { checkRun, expectPurgeAccepted } from "./checks.ts";
import { BenchError, fmt } from "./common.ts";
import { countingKv } from "./kv-counter.ts";
import { type LoadSettings, type Measured, measureRun, UNIQUE } from "./load.ts";
import { type PurgeFindings, verifyPurges, waitIdle } from "./purge-verify.ts";
import type { RunningWorker } from "./workers.ts";

/** The purge API's path (src/config.ts purgePath's default; the bench sets no EDGE_CONFIG). */
export const PURGE_PATH = "/__edge/purge";

/** The target for the purge API's p99 latency, ms (locally). */
export const PURGE_P99_TARGET_MS = 50;

/** What each purge run measures (the JSON's `description`). */
export const PURGE_DESCRIPTIONS = {
  purge: "our purge API, POST /__edge/purge, a new tag per request (answered once the coordinator recorded it)",
  "purge-1tag": "our purge API, POST /__edge/purge, the same tag in every request (the coordinator merges them)",
} as const;

/** How long publishing may take after a run (locally the coordinator writes a few hundred per-tag keys a second). */
const PUBLISH_TIMEOUT_MS = 120_000;

/** Both purge runs at one connection count. */
export async function runPurges(ours: RunningWorker, s: LoadSettings): Promise<Measured[]> {
  return [await runPurge(ours, s, "unique"), await runPurge(ours, s, "same")];
}

const bodyFor = (tag: string) => JSON.stringify({ tags: [tag] });

/** One purge run: a sample purge, the load, the checks, the KV count. */
async function runPurge(ours: RunningWorker, s: LoadSettings, tags: "unique" | "same"): Promise<Measured> {
  const logs = ours.logs;
  if (!logs) throw new BenchError("purge: our worker was started without its log tap");
  // Tags are lower-cased by the API (and so in KV): the run's names are lower-case, autocannon's ids are not.
  // Measured tags are <run>-m-<id> (or <run>-m), warm-up tags <run>-w-<id>, the sample <run>-p: prefixes apart.
  const run = `bench-${process.pid}-c${s.connections}-${tags === "unique" ? "u" : "s"}`;
  const tag = tags === "unique" ? `${run}-m-` : `${run}-m`;
  await expectPurgeAccepted(ours.url, PURGE_PATH, BENCH_PURGE_TOKEN, `${run}-p`);
  let loggedBefore = 0;
  let idleMs = 0;
  const counting = countingKv(ours.url, {
    ...s,
    hooks: {
      before: async () => {
        // The warm-up's purges are published first: the run starts with nothing queued at the coordinator.
        idleMs = await waitIdle(ours, PUBLISH_TIMEOUT_MS);
        await s.hooks?.before();
        loggedBefore = logs.count("purge");
      },
      after: async () => s.hooks?.after(),
    },
  });
  const target = tags === "unique" ? "purge" : "purge-1tag";
  const { measured: m, lastResponseAt } = await measureRun(counting.settings, {
    target, description: PURGE_DESCRIPTIONS[target], base: ours.url, path: PURGE_PATH, warmPath: PURGE_PATH, unique: tags === "unique",
    request: {
      method: "POST",
      headers: { authorization: `Bearer ${BENCH_PURGE_TOKEN}`, "content-type": "application/json" },
      body: bodyFor(tags === "unique" ? `${tag}${UNIQUE}` : tag),
      warmBody: bodyFor(tags === "unique" ? `${run}-w-${UNIQUE}` : `${run}-w`),
    },
  });
  checkRun(m);
  m.kv = counting.result(m.requests, m.seconds);
  m.purge = await verifyPurges(ours, {
    tags, tag, answered: m.requests, connections: s.connections, lastResponseAt, logged: () => logs.count("purge"), loggedBefore,
  }, PUBLISH_TIMEOUT_MS);
  m.notes.push(purgeNote(m.purge), `the warm-up's purges were published ${fmt(idleMs / 1000, 1)} s after it ended, before the run began`);
  return m;
}

/** The checks that passed, in a line. */
function purgeNote(p: PurgeFindings): string {
  const keys = p.tags === "unique" ? `${p.tagKeys} per-tag keys for ${p.answered} answered purges` : "its per-tag key holds the last purge";
  const window = p.windowTrimmed ? ` (window cut to the newest ${p.journalTags} tags)` : "";
  return `${p.logged} purges recorded; ${keys}; journal: ${p.journalRunTags} of the run's tags${window}, `
    + `${p.sampledInJournal}/${p.sampled} sampled keys in it with the same times; published: journal ${fmt(p.journalMs, 0)} ms, `
    + `every per-tag key ${fmt(p.tagKeysMs / 1000, 1)} s after the last response`;
}
