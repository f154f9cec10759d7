/**
 * Warm the edge cache: request every URL (per language), then again to confirm it is now a HIT.
 *
 *   npm run warm -- / /blog/answer/ /static/app.css --languages en,fr
 *   npm run warm -- --file urls.txt --concurrency 8
 *   npm run warm -- --sitemap /sitemap.xml
 *
 * Environment: EDGE_CACHE_URL (the worker's base URL, e.g. http://127.0.0.1:8787); --endpoint
 * overrides it. Exit codes: 0 warmed, 1 some URL failed, 2 bad usage (nothing was sent).
 */
import { fmtMs, parseFlags, positiveInt, printJson, run } from "./lib/cli.ts";
import { mapLimit } from "./lib/pool.ts";
import { createProgress } from "./lib/progress.ts";
import { notCacheableReason, okStatus, type Pair, requestTwice, xCacheLabel } from "./lib/probe.ts";
import { arrowCells, formatPairs, formatTable } from "./lib/table.ts";
import { type Job, ENV_USAGE, loadJobs, TARGET_OPTIONS, TARGET_USAGE } from "./lib/targets.ts";

const USAGE = `Warm the edge cache: request each URL, then once more to confirm it is now a HIT.

Usage: npm run warm -- [<url-or-path>...] [--file <list>] [--sitemap <url>] [options]

${TARGET_USAGE}
  --concurrency <n>      requests in flight (default 4)
  --confirm-retries <n>  when the first answer said "stored" but the confirming request
                         still misses (the worker writes entries in the background),
                         ask again up to n times, 250 ms apart, doubling (default 2;
                         0: never)
  --strict               a response the worker will not cache (BYPASS, or a MISS it did
                         not store, e.g. /admin/) is a failure, not just reported
  --json                 print the results as JSON
  -h, --help             show this help

${ENV_USAGE}

Progress goes to stderr (a bar on a terminal, one line per URL otherwise).
Exit status: 0 all warmed, 1 a URL failed (network error, status other than 2xx/3xx,
or a cacheable response not served as a HIT afterwards), 2 usage error (nothing sent).`;

type Outcome = "warmed" | "already cached" | "not cacheable" | "failed";

interface Row {
  job: Job;
  pair: Pair;
  outcome: Outcome;
  reason: string;
}

function judge(job: Job, pair: Pair, strict: boolean): Row {
  const { first, second } = pair;
  const row = (outcome: Outcome, reason: string): Row => ({ job, pair, outcome, reason });
  if (first.error) return row("failed", first.error);
  if (second.error) return row("failed", `confirming request: ${second.error}`);
  if (!okStatus(first.status)) return row("failed", `HTTP ${first.status}`);
  if (!first.xCache) return row("failed", "no X-Cache header: is this the edge-cache worker?");
  const uncacheable = notCacheableReason(first);
  if (uncacheable && second.xCache !== "HIT") return row(strict ? "failed" : "not cacheable", strict ? `not cacheable, ${uncacheable}; --strict` : uncacheable);
  if (second.xCache !== "HIT") {
    const tries = 1 + pair.retries;
    return row("failed", `still ${second.xCache || "no X-Cache"} after ${tries} confirming request${tries === 1 ? "" : "s"}${second.detail ? `, detail=${second.detail}` : ""}`);
  }
  const retried = pair.retries ? `HIT on retry ${pair.retries}` : "";
  if (first.xCache === "HIT") return row("already cached", retried);
  return row("warmed", retried);
}

function resultCell(r: Row): string {
  const label = r.outcome === "failed" ? "FAILED" : r.outcome;
  return r.reason ? `${label} (${r.reason})` : label;
}

function table(rows: Row[], withLanguage: boolean): string {
  const xCache = arrowCells(rows.map((r) => (r.pair.first.error ? "-" : [xCacheLabel(r.pair.first), xCacheLabel(r.pair.second)])));
  const status = arrowCells(rows.map(({ pair: { first, second } }) =>
    first.error ? "-" : second.status !== first.status && !second.error ? [String(first.status), String(second.status)] : String(first.status)));
  return formatTable(
    [
      { header: "URL" },
      ...(withLanguage ? [{ header: "LANG" }] : []),
      { header: "STATUS" },
      { header: "X-CACHE" },
      { header: "1ST MS", align: "right" as const },
      { header: "2ND MS", align: "right" as const },
      { header: "RESULT" },
    ],
    rows.map((r, i) => {
      const { first, second } = r.pair;
      return [
        r.job.display,
        ...(withLanguage ? [r.job.language ?? ""] : []),
        status[i]!,
        xCache[i]!,
        fmtMs(first.ms),
        first.error ? "-" : fmtMs(second.ms),
        resultCell(r),
      ];
    }),
  );
}

async function main(): Promise<number> {
  const args = parseFlags(process.argv.slice(2), {
    usage: USAGE,
    positionals: true,
    options: {
      ...TARGET_OPTIONS,
      concurrency: { type: "string" },
      "confirm-retries": { type: "string" },
      strict: { type: "boolean" },
    },
  });
  if (!args) return 0;
  const v = args.values;
  const concurrency = positiveInt("concurrency", v.concurrency, 4, 256);
  const confirmRetries = v["confirm-retries"] === "0" ? 0 : positiveInt("confirm-retries", v["confirm-retries"], 2, 10);
  const strict = !!v.strict;

  const { endpoint, urls, languages, jobs, timeoutMs } = await loadJobs(v, args.positionals, process.env, (l) => process.stderr.write(`${l}\n`));

  const started = performance.now();
  const progress = createProgress(jobs.length, "warm");
  const rows = await mapLimit(jobs, concurrency, async (job) => {
    const pair = await requestTwice(job.url, { language: job.language, timeoutMs, userAgent: "edge-cache-warm", confirmRetries });
    const r = judge(job, pair, strict);
    const lang = job.language ? ` [${job.language}]` : "";
    const what = pair.first.error ? pair.first.error : `${pair.first.status} ${xCacheLabel(pair.first)} → ${xCacheLabel(pair.second)}`;
    progress.tick(`${job.display}${lang} ${what} ${r.outcome}`);
    return r;
  });
  progress.done();
  const seconds = (performance.now() - started) / 1000;

  const count = (o: Outcome) => rows.filter((r) => r.outcome === o).length;
  const failed = count("failed");
  if (v.json) {
    const out = {
      endpoint: endpoint?.href ?? null,
      languages,
      concurrency,
      strict,
      seconds: Number(seconds.toFixed(3)),
      summary: { urls: urls.length, requests: rows.length, warmed: count("warmed"), alreadyCached: count("already cached"), notCacheable: count("not cacheable"), failed },
      results: rows.map((r) => ({
        url: r.job.url,
        language: r.job.language ?? null,
        outcome: r.outcome,
        reason: r.reason || null,
        first: r.pair.first,
        second: r.pair.first.error ? null : r.pair.second,
        confirmRetries: r.pair.retries,
      })),
    };
    printJson(out);
    return failed ? 1 : 0;
  }

  const variants = languages.length ? ` × ${languages.length} languages (${languages.join(", ")})` : "";
  const where = endpoint ? ` via ${endpoint.origin}` : "";
  const lines = [
    `Warmed ${urls.length} URL${urls.length === 1 ? "" : "s"}${variants}${where}, concurrency ${concurrency}`,
    "",
    table(rows, languages.length > 0),
    "",
    formatPairs([
      ["warmed", String(count("warmed"))],
      ["already cached", String(count("already cached"))],
      ["not cacheable", `${count("not cacheable")}${count("not cacheable") ? "  (reported, not a failure; --strict makes it one)" : ""}`],
      ["failed", String(failed)],
      ["time", `${seconds.toFixed(1)} s`],
    ]),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (failed) process.stderr.write(`error: ${failed} of ${rows.length} request${rows.length === 1 ? "" : "s"} failed\n`);
  return failed ? 1 : 0;
}

await run(main);
