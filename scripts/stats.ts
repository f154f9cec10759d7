/**
 * Cache statistics from the worker's request log (src/log.ts RequestRecord lines).
 *
 *   npm run stats -- --file worker.log
 *   npx wrangler tail --format json | npm run stats
 *   npm run stats -- --file tail.json --bucket 5m --svg hit-rate.svg
 *
 * Reads raw JSON lines (as the worker prints them; wrangler dev's "[edge-cache] " prefix is fine)
 * and `wrangler tail --format json` objects (records inside logs[].message[]); skips the rest.
 * Exit codes: 0 printed, 1 no request records in the input, 2 bad usage.
 */
import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fmtBytes, fmtMs, fmtPct, parseFlags, positiveInt, printJson, RunError, run, UsageError } from "./lib/cli.ts";
import { asciiBar, type Point, svgLineChart } from "./lib/chart.ts";
import { type Entry, type ReadCounts, RecordReader } from "./lib/records.ts";
import { formatPairs, formatTable } from "./lib/table.ts";

const USAGE = `Cache statistics from edge-cache's request log.

Usage: npm run stats -- [--file <log>]... [options]
       npx wrangler tail --format json | npm run stats -- [options]

Input (default: stdin):
  --file <path>          a saved log: the worker's JSON lines (npm start / wrangler dev
                         output is fine), or wrangler tail --format json output; "-" is
                         stdin (repeatable, read in order)

Options:
  --bucket <size>        time bucket for the hit-rate chart: 1m, 5m, 1h, or any
                         <n>s|m|h|d (default: auto: the smallest of 1s, 10s, 30s, 1m,
                         5m, 15m, 1h, 6h, 1d giving at most 30 buckets)
  --top <n>              slowest keys to list (default 10)
  --slowest-by <p95|max> rank keys by p95 or max totalMs (default p95)
  --width <n>            width of the ASCII bars (default 40)
  --svg <path>           also write an SVG line chart of the hit rate over time
  --json                 print the statistics as JSON
  -h, --help             show this help

Hit rate is HIT / (HIT + MISS): BYPASS requests (admin, sessions, unsafe methods) could never
be hits and are reported as a share of all requests instead. Times are UTC.
Exit status: 0 printed, 1 no request records found, 2 usage error.`;

// ---------------------------------------------------------------------------------------------
// Input

async function readInputs(files: string[]): Promise<{ entries: Entry[]; counts: ReadCounts; sources: string[] }> {
  const reader = new RecordReader();
  const sources = files.length ? files : ["-"];
  let stdinUsed = false;
  for (const file of sources) {
    let input: NodeJS.ReadableStream;
    if (file === "-") {
      if (stdinUsed) throw new UsageError("stdin (-) given twice");
      stdinUsed = true;
      if (process.stdin.isTTY) throw new UsageError("no input: pass --file <log>, or pipe a log in (e.g. npx wrangler tail --format json | npm run stats)");
      input = process.stdin;
    } else {
      const stream = createReadStream(file, { encoding: "utf8" });
      await new Promise<void>((resolve, reject) => {
        stream.once("open", () => resolve());
        stream.once("error", (e: NodeJS.ErrnoException) => reject(new UsageError(`--file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`)));
      });
      input = stream;
    }
    for await (const line of createInterface({ input, crlfDelay: Infinity })) reader.line(line);
    reader.end();
  }
  return { entries: reader.entries, counts: reader.counts, sources: sources.map((s) => (s === "-" ? "stdin" : s)) };
}

// ---------------------------------------------------------------------------------------------
// Numbers

/** Nearest-rank percentile of an ascending array; NaN when empty. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

interface Dist {
  count: number;
  median: number;
  p95: number;
  max: number;
}

function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, median: percentile(s, 0.5), p95: percentile(s, 0.95), max: s.length ? s[s.length - 1]! : NaN };
}

interface Tally {
  requests: number;
  hit: number;
  miss: number;
  bypass: number;
  other: number;
}

const tally = (): Tally => ({ requests: 0, hit: 0, miss: 0, bypass: 0, other: 0 });

function add(t: Tally, e: Entry): void {
  t.requests++;
  if (e.cache === "HIT") t.hit++;
  else if (e.cache === "MISS") t.miss++;
  else if (e.cache === "BYPASS") t.bypass++;
  else t.other++;
}

/** HIT / (HIT + MISS), null when there were neither. */
const hitRate = (t: Tally): number | null => (t.hit + t.miss > 0 ? t.hit / (t.hit + t.miss) : null);

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = "";
  let n = -1;
  for (const [v, c] of counts) if (c > n) [best, n] = [v, c];
  return best;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const AUTO_BUCKETS = ["1s", "10s", "30s", "1m", "5m", "15m", "1h", "6h", "1d"];
const MAX_AUTO_BUCKETS = 30;

function parseBucket(raw: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(raw.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!(ms >= 1000)) throw new UsageError(`--bucket ${JSON.stringify(raw)}: give a size like 1m, 5m, 1h (or <n>s|m|h|d), or auto`);
  return ms;
}

function bucketName(ms: number): string {
  for (const u of ["d", "h", "m", "s"]) if (ms % UNITS[u]! === 0) return `${ms / UNITS[u]!}${u}`;
  return `${ms}ms`;
}

interface Stats {
  sources: string[];
  read: ReadCounts;
  from: string;
  to: string;
  totals: Tally & { hitRate: number | null; bypassShare: number };
  bytesFromCache: { bytes: number; hitsWithSize: number; hitsWithoutSize: number };
  rules: (Tally & { rule: string; hitRate: number | null })[];
  latency: Record<"HIT" | "MISS" | "BYPASS", Dist>;
  origin: Record<"MISS" | "BYPASS", Dist & { overheadMedian: number }>;
  slowest: { by: "p95" | "max"; keys: { key: string; path: string; rule: string; count: number; hitRate: number | null; median: number; p95: number; max: number }[] };
  timeline: { bucket: string; bucketMs: number; buckets: (Tally & { start: string; time: number; hitRate: number | null })[] };
}

function compute(entries: Entry[], read: ReadCounts, sources: string[], o: { bucketMs: number | null; top: number; by: "p95" | "max" }): Stats {
  const sorted = [...entries].sort((a, b) => a.time - b.time);
  const totals = tally();
  for (const e of sorted) add(totals, e);

  const hits = sorted.filter((e) => e.cache === "HIT");
  const sized = hits.filter((e) => e.bytes >= 0);

  const byRule = new Map<string, Tally>();
  for (const e of sorted) {
    const t = byRule.get(e.rule) ?? tally();
    add(t, e);
    byRule.set(e.rule, t);
  }

  const of = (cache: string) => sorted.filter((e) => e.cache === cache);
  const originDist = (cache: "MISS" | "BYPASS") => {
    const es = of(cache);
    return { ...dist(es.map((e) => e.originMs)), overheadMedian: dist(es.map((e) => Math.max(0, e.totalMs - e.originMs))).median };
  };

  const byKey = new Map<string, Entry[]>();
  for (const e of sorted) {
    const k = e.key || `${e.host}${e.path}`;
    const list = byKey.get(k);
    if (list) list.push(e);
    else byKey.set(k, [e]);
  }
  const keys = [...byKey].map(([key, es]) => {
    const d = dist(es.map((e) => e.totalMs));
    const t = tally();
    for (const e of es) add(t, e);
    return { key, path: mostCommon(es.map((e) => e.path)), rule: mostCommon(es.map((e) => e.rule)), count: es.length, hitRate: hitRate(t), median: d.median, p95: d.p95, max: d.max };
  });
  keys.sort((a, b) => (o.by === "max" ? b.max - a.max || b.p95 - a.p95 : b.p95 - a.p95 || b.max - a.max) || b.count - a.count);

  const first = sorted[0]!.time;
  const last = sorted[sorted.length - 1]!.time;
  let bucketMs = o.bucketMs;
  if (bucketMs === null) {
    bucketMs = UNITS.d!;
    for (const name of AUTO_BUCKETS) {
      const ms = parseBucket(name);
      if (Math.floor(last / ms) - Math.floor(first / ms) + 1 <= MAX_AUTO_BUCKETS) {
        bucketMs = ms;
        break;
      }
    }
  }
  const start = Math.floor(first / bucketMs) * bucketMs;
  const n = Math.floor((last - start) / bucketMs) + 1;
  if (n > 2000) throw new UsageError(`--bucket ${bucketName(bucketMs)} makes ${n} buckets over this log; choose a larger one`);
  const buckets = Array.from({ length: n }, (_, i) => ({ ...tally(), time: start + i * bucketMs!, start: new Date(start + i * bucketMs!).toISOString(), hitRate: null as number | null }));
  for (const e of sorted) add(buckets[Math.floor((e.time - start) / bucketMs)]!, e);
  for (const b of buckets) b.hitRate = hitRate(b);

  return {
    sources,
    read,
    from: sorted[0]!.ts,
    to: sorted[sorted.length - 1]!.ts,
    totals: { ...totals, hitRate: hitRate(totals), bypassShare: totals.bypass / totals.requests },
    bytesFromCache: { bytes: sized.reduce((s, e) => s + e.bytes, 0), hitsWithSize: sized.length, hitsWithoutSize: hits.length - sized.length },
    rules: [...byRule].map(([rule, t]) => ({ rule, ...t, hitRate: hitRate(t) })).sort((a, b) => b.requests - a.requests || a.rule.localeCompare(b.rule)),
    latency: { HIT: dist(of("HIT").map((e) => e.totalMs)), MISS: dist(of("MISS").map((e) => e.totalMs)), BYPASS: dist(of("BYPASS").map((e) => e.totalMs)) },
    origin: { MISS: originDist("MISS"), BYPASS: originDist("BYPASS") },
    slowest: { by: o.by, keys: keys.slice(0, o.top) },
    timeline: { bucket: bucketName(bucketMs), bucketMs, buckets },
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const pct = (r: number | null) => (r === null ? "-" : `${(r * 100).toFixed(1)}%`);

/** UTC labels: "HH:MM", with seconds for sub-minute buckets and the date for spans of a day or more. */
function timeLabel(spanMs: number, bucketMs: number): (t: number) => string {
  const iso = (t: number) => new Date(t).toISOString();
  const end = bucketMs % UNITS.m! === 0 ? 16 : 19;
  return spanMs >= UNITS.d! ? (t) => `${iso(t).slice(5, 10)} ${iso(t).slice(11, end)}` : (t) => iso(t).slice(11, end);
}

function render(s: Stats, barWidth: number): string {
  const t = s.totals;
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  const readNote = [
    s.read.tail ? `${s.read.raw} raw + ${s.read.tail} from wrangler tail objects` : "",
    s.read.otherLines ? `skipped ${n(s.read.otherLines, "other line", "other lines")}` : "",
    s.read.otherJson ? `${n(s.read.otherJson, "other JSON value", "other JSON values")}` : "",
    s.read.broken ? `${n(s.read.broken, "broken object", "broken objects")}` : "",
  ].filter(Boolean).join("; ");
  const out: string[] = [];
  out.push(`Read ${t.requests} requests from ${s.sources.join(", ")}${readNote ? ` (${readNote})` : ""}`);
  out.push(`${s.from} → ${s.to}`);
  out.push("");
  const b = s.bytesFromCache;
  out.push(formatPairs([
    ["requests", String(t.requests)],
    ["HIT / MISS / BYPASS", `${t.hit} / ${t.miss} / ${t.bypass}${t.other ? `  (+${t.other} without X-Cache)` : ""}`],
    ["hit rate", `${pct(t.hitRate)}  (HIT / (HIT+MISS))`],
    ["bypass share", `${fmtPct(t.bypass, t.requests)}  (of all requests)`],
    ["bytes from cache", `${fmtBytes(b.bytes)}  (${b.bytes.toLocaleString("en-US")} B not fetched from the origin; ${b.hitsWithSize} HITs${b.hitsWithoutSize ? `, ${b.hitsWithoutSize} more of unknown size` : ""})`],
  ]));

  out.push("", "Hit rate by rule", "");
  out.push(formatTable(
    [{ header: "RULE" }, { header: "REQUESTS", align: "right" }, { header: "HIT", align: "right" }, { header: "MISS", align: "right" }, { header: "BYPASS", align: "right" }, { header: "HIT RATE", align: "right" }],
    s.rules.map((r) => [r.rule, String(r.requests), String(r.hit), String(r.miss), String(r.bypass), pct(r.hitRate)]),
  ));

  out.push("", "Response time (totalMs, in the worker)", "");
  out.push(formatTable(
    [{ header: "X-CACHE" }, { header: "COUNT", align: "right" }, { header: "MEDIAN", align: "right" }, { header: "P95", align: "right" }, { header: "MAX", align: "right" }],
    (["HIT", "MISS", "BYPASS"] as const).map((c) => { const d = s.latency[c]; return [c, String(d.count), fmtMs(d.median), fmtMs(d.p95), fmtMs(d.max)]; }),
  ));

  out.push("", "Origin time (originMs) for requests that went to the origin", "");
  out.push(formatTable(
    [{ header: "X-CACHE" }, { header: "COUNT", align: "right" }, { header: "MEDIAN", align: "right" }, { header: "P95", align: "right" }, { header: "MAX", align: "right" }, { header: "WORKER OVERHEAD (MEDIAN)", align: "right" }],
    (["MISS", "BYPASS"] as const).map((c) => { const d = s.origin[c]; return [c, String(d.count), fmtMs(d.median), fmtMs(d.p95), fmtMs(d.max), fmtMs(d.overheadMedian)]; }),
  ));

  out.push("", `Slowest keys (top ${s.slowest.keys.length} by ${s.slowest.by} totalMs)`, "");
  out.push(formatTable(
    [{ header: "KEY" }, { header: "PATH" }, { header: "RULE" }, { header: "COUNT", align: "right" }, { header: "HIT RATE", align: "right" }, { header: "MEDIAN", align: "right" }, { header: "P95", align: "right" }, { header: "MAX", align: "right" }],
    s.slowest.keys.map((k) => [k.key, k.path, k.rule, String(k.count), pct(k.hitRate), fmtMs(k.median), fmtMs(k.p95), fmtMs(k.max)]),
  ));

  const tl = s.timeline;
  const label = timeLabel(tl.buckets.length * tl.bucketMs, tl.bucketMs);
  out.push("", `Hit rate over time (${tl.bucket} buckets, UTC)`, "");
  const counts = tl.buckets.map((x) => `n=${x.requests}`);
  const cw = Math.max(...counts.map((c) => c.length));
  tl.buckets.forEach((x, i) => {
    const bar = x.hitRate === null ? " ".repeat(barWidth) : asciiBar(x.hitRate, barWidth);
    const rate = x.hitRate === null ? (x.requests ? "no HIT/MISS" : "-") : pct(x.hitRate);
    out.push(`  ${label(x.time)}  |${bar}|  ${rate.padStart(6)}  ${counts[i]!.padEnd(cw)}${x.bypass ? `  (${x.bypass} bypass)` : ""}`.trimEnd());
  });
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const args = parseFlags(process.argv.slice(2), {
    usage: USAGE,
    options: {
      file: { type: "string", multiple: true },
      bucket: { type: "string" },
      top: { type: "string" },
      "slowest-by": { type: "string" },
      width: { type: "string" },
      svg: { type: "string" },
    },
  });
  if (!args) return 0;
  const v = args.values;
  const bucketMs = v.bucket === undefined || v.bucket === "auto" ? null : parseBucket(v.bucket);
  const top = positiveInt("top", v.top, 10, 10_000);
  const width = positiveInt("width", v.width, 40, 200);
  const by = v["slowest-by"] ?? "p95";
  if (by !== "p95" && by !== "max") throw new UsageError(`--slowest-by must be p95 or max, got ${JSON.stringify(by)}`);

  const { entries, counts, sources } = await readInputs(v.file ?? []);
  if (entries.length === 0) {
    throw new RunError(`no request records in ${sources.join(", ")} (${counts.otherLines} other line(s), ${counts.otherJson} other JSON value(s)); the worker logs them unless LOG_REQUESTS is "false"`);
  }
  const stats = compute(entries, counts, sources, { bucketMs, top, by });

  if (v.svg) {
    const tl = stats.timeline;
    const label = timeLabel(tl.buckets.length * tl.bucketMs, tl.bucketMs);
    const points: Point[] = tl.buckets.map((b) => ({ time: b.time, rate: b.hitRate, count: b.requests, note: `${b.hit} HIT, ${b.miss} MISS, ${b.bypass} BYPASS` }));
    const title = `edge-cache hit rate, HIT / (HIT+MISS), ${tl.bucket} buckets: ${pct(stats.totals.hitRate)} overall`;
    try {
      await writeFile(v.svg, svgLineChart(points, { title, bucketMs: tl.bucketMs, label }));
    } catch (e) {
      throw new RunError(`--svg ${v.svg}: ${(e as Error).message}`);
    }
  }

  if (v.json) {
    const { timeline, ...rest } = stats;
    const out = { ...rest, timeline: { ...timeline, buckets: timeline.buckets.map(({ time: _t, ...b }) => b) } };
    printJson(out); // NaN (an empty distribution) is written as null
  } else {
    process.stdout.write(`${render(stats, width)}\n`);
    if (v.svg) process.stdout.write(`\nWrote ${v.svg}\n`);
  }
  return 0;
}

await run(main);
