/**
 * What the bench prints about purges and KV: the purge API's runs with what the coordinator
 * recorded and published, the KV operations our worker made per response during each run of ours,
 * and their targets (purge p99 latency, KV reads per hit). Reported, never asserted.
 */
import { formatTable } from "../lib/table.ts";
import { fmt } from "./common.ts";
import type { Measured } from "./load.ts";
import { PURGE_P99_TARGET_MS } from "./purge-api.ts";
import { type Ratio, ratio } from "./report.ts";

/**
 * How often an isolate reads the purge journal from KV: tagCheckMemoMs (src/config.ts; its default,
 * as the bench sets no EDGE_CONFIG).
 */
export const TAG_CHECK_MEMO_MS = 1000;
/** Isolates serving our worker in the bench: Miniflare runs one per worker. */
const ISOLATES = 1;

/** The purge runs: throughput, latency, and what the coordinator recorded and published after each. */
export function purgeTable(rows: Measured[]): string {
  const runs = rows.filter((m) => m.purge);
  const table = formatTable(
    [
      { header: "purge run" },
      ...["conns", "purges/s", "p50 ms", "p90 ms", "p99 ms", "purges", "errors/non-2xx", "recorded", "tag keys", "in journal", "journal ms", "all keys s"]
        .map((header) => ({ header, align: "right" as const })),
    ],
    runs.map((m) => {
      const p = m.purge!;
      return [
        m.target, String(m.connections), fmt(m.rps, 0), fmt(m.p50), fmt(m.p90), fmt(m.p99), String(m.requests), `${m.errors}/${m.non2xx}`,
        String(p.logged), String(p.tagKeys), `${p.journalRunTags}${p.windowTrimmed ? "*" : ""}`, fmt(p.journalMs, 0), fmt(p.tagKeysMs / 1000, 1),
      ];
    }),
    { indent: "", rule: true },
  );
  return [
    table,
    "  purge: a new tag per request; purge-1tag: the same tag in every request. A 200 means the coordinator recorded the purge (durable).",
    "  recorded: purges the API logged as recorded (includes ones in flight when the run stopped); tag keys: per-tag KV keys written for the run's tags;",
    "  in journal: the run's tags in the published journal (*: its window was cut to the newest 4,000 tags);",
    "  journal ms / all keys s: from the run's last 2xx response until the journal in KV holds the last purge recorded / every per-tag key is written.",
    "  Locally, each coordinator alarm that writes a batch of per-tag keys (up to 40 KV puts into Miniflare's KV simulator, about 70 ms) holds up",
    "  every other request in the workerd process meanwhile: the unique-tag runs' p99 and throughput show it; Cloudflare's KV writes would not.",
  ].join("\n");
}

/** The KV operations our worker made during each of its runs (counted by the bench wrapper). */
export function kvTable(rows: Measured[]): string {
  const runs = rows.filter((m) => m.kv);
  const table = formatTable(
    [
      { header: "KV operations (worker's env.TAGS)" },
      ...["conns", "requests", "get", "keys", "put", "list", "delete", "get/request", "keys/request"].map((header) => ({ header, align: "right" as const })),
    ],
    runs.map((m) => {
      const k = m.kv!;
      return [m.target, String(m.connections), String(k.requests), String(k.gets), String(k.keys), String(k.puts), String(k.lists), String(k.deletes),
        fmt(k.readsPerRequest, 5), fmt(k.keysPerRequest, 5)];
    }),
    { indent: "", rule: true },
  );
  return [
    table,
    "  counted by a bench-only wrapper around the worker's env.TAGS over the measured run (a bulk get of up to 100 keys is one get);",
    `  the purge coordinator's own writes are not counted (they are not per request). Target: KV reads per hit ≈ 0 `
      + `(≤ 1 per isolate per tagCheckMemoMs, ${TAG_CHECK_MEMO_MS} ms; ${ISOLATES} isolate here).`,
    ...(runs.some((m) => m.target === "hit-after-purge") ? afterPurgeNote(rows) : []),
  ].join("\n");
}

/** What the journal looked like when hit-after-purge ran. */
function afterPurgeNote(rows: Measured[]): string[] {
  const last = rows.filter((m) => m.purge).at(-1)?.purge;
  if (!last?.windowTrimmed) return [`  hit-after-purge runs right after the purge runs (the journal then held ${last?.journalTags ?? "?"} tags, its window not cut short).`];
  return [
    "  hit-after-purge runs right after the purge runs, which purged more than the journal's 4,000 tags: its window then starts at the newest",
    "  purges, so the cached entry (filled before it) is judged from per-tag keys, whose memo the worker trusts only from 2 minutes after that start.",
  ];
}

/** Journal reads a run of `seconds` may make: one per isolate per interval, plus the one already due when it starts. */
function allowedReads(seconds: number): number {
  return ISOLATES * (Math.ceil((seconds * 1000) / TAG_CHECK_MEMO_MS) + 1);
}

/** Purge p99 latency and KV reads per hit as targets; publishing times and KV per miss as information. */
export function purgeKvRatios(results: Measured[], connections: number[]): Ratio[] {
  const out: Ratio[] = [];
  for (const c of connections) {
    const at = { connections: c };
    const by = (t: string) => results.find((m) => m.target === t && m.connections === c);
    for (const [target, suffix] of [["hit", ""], ["hit-after-purge", ", after purges"]] as const) {
      const k = by(target)?.kv;
      if (!k) continue;
      const allowed = allowedReads(k.seconds);
      out.push(ratio(`KV reads per hit${suffix}`, k.readsPerRequest, { op: "<=", value: allowed / Math.max(1, k.requests) }, {
        ...at, digits: 5, detail: `${k.gets} gets for ${k.requests} hits in ${fmt(k.seconds, 1)} s; ≤ ${allowed} allowed: 1 per isolate per ${TAG_CHECK_MEMO_MS} ms`,
      }));
      out.push(ratio(`KV keys per hit${suffix}`, k.keysPerRequest, undefined, { ...at, digits: 5, detail: `${k.keys} keys` }));
    }
    const miss = by("miss");
    if (miss?.kv) out.push(ratio("KV reads per miss", miss.kv.readsPerRequest, undefined, { ...at, digits: 5, detail: `${miss.kv.gets} gets, ${miss.kv.keys} keys for ${miss.kv.requests} misses` }));
    for (const [target, label] of [["purge", "new tag each"], ["purge-1tag", "one tag"]] as const) {
      const m = by(target);
      if (!m?.purge) continue;
      out.push(ratio(`purge API p99 latency (${label})`, m.p99, { op: "<=", value: PURGE_P99_TARGET_MS }, {
        ...at, unit: "ms", detail: `${fmt(m.rps, 0)} purges/s, p50 ${fmt(m.p50)} ms`,
      }));
      out.push(ratio(`purge to journal in KV (${label})`, m.purge.journalMs, undefined, {
        ...at, unit: "ms", digits: 0, detail: `after the last response; every per-tag key after ${fmt(m.purge.tagKeysMs / 1000, 1)} s`,
      }));
    }
  }
  return out;
}
