/**
 * Post-deploy check: request each critical URL twice; the second answer must be an X-Cache HIT,
 * and should be faster than the first.
 *
 *   npm run verify -- / /blog/cache-tags/
 *   npm run verify -- --file critical-urls.txt --expect-miss --strict
 *
 * Environment: EDGE_CACHE_URL (the worker's base URL, e.g. http://127.0.0.1:8787); --endpoint
 * overrides it. Exit codes: 0 verified, 1 a check failed, 2 bad usage (nothing was sent).
 */
import { fmtMs, parseFlags, positiveInt, printJson, RunError, run } from "./lib/cli.ts";
import { mapLimit } from "./lib/pool.ts";
import { createProgress } from "./lib/progress.ts";
import { notCacheableReason, okStatus, type Pair, requestTwice, xCacheLabel } from "./lib/probe.ts";
import { arrowCells, formatPairs, formatTable } from "./lib/table.ts";
import { describeFetchError, type Job, ENV_USAGE, loadJobs, TARGET_OPTIONS, TARGET_USAGE } from "./lib/targets.ts";

const USAGE = `Verify a deployment: each URL is requested twice; the second answer must be an
X-Cache HIT (a hard failure otherwise) and should be faster than the first.

Usage: npm run verify -- [<url-or-path>...] [--file <list>] [--sitemap <url>] [options]

${TARGET_USAGE}
  --concurrency <n>      URLs checked at once (default 1: timings stay comparable)
  --expect-miss          the first request must be a MISS (right after a deploy that
                         bumped CACHE_VERSION, or a purge); default: a URL that is
                         already a HIT passes, and is reported as already cached
  --strict               a second request that is not faster fails the check
                         (default: a warning, loopback timings are noisy)
  --confirm-retries <n>  when the first answer said "stored" but the second still
                         misses (entries are written in the background), ask again up
                         to n times, 250 ms apart, doubling (default 2; 0: never)
  --json                 print the results as JSON
  -h, --help             show this help

${ENV_USAGE}

Exit status: 0 verified (warnings allowed), 1 a check failed, 2 usage error (nothing sent).`;

type Verdict = "ok" | "warning" | "failed";

interface Row {
  job: Job;
  pair: Pair;
  verdict: Verdict;
  note: string;
  /** first.ms / second.ms, when both answered. */
  speedup: number | null;
}

function judge(job: Job, pair: Pair, opts: { strict: boolean; expectMiss: boolean }): Row {
  const { first, second } = pair;
  const speedup = !first.error && !second.error && second.ms > 0 ? first.ms / second.ms : null;
  const row = (verdict: Verdict, note: string): Row => ({ job, pair, verdict, note, speedup });
  const retried = pair.retries ? `, HIT on retry ${pair.retries}` : "";
  if (first.error) return row("failed", first.error);
  if (second.error) return row("failed", `second request: ${second.error}`);
  if (!okStatus(first.status)) return row("failed", `HTTP ${first.status}`);
  if (!okStatus(second.status)) return row("failed", `second request: HTTP ${second.status}`);
  if (!first.xCache) return row("failed", "no X-Cache header: is this the edge-cache worker?");
  if (second.xCache !== "HIT") {
    const why = notCacheableReason(first) ?? notCacheableReason(second);
    return row("failed", `second request ${second.xCache}${why ? `, ${why}` : second.detail ? ` (${second.detail})` : ""}`);
  }
  if (first.xCache === "HIT") {
    return opts.expectMiss ? row("failed", "first request already a HIT; --expect-miss") : row("ok", "already cached: HIT on the first request");
  }
  if (second.ms >= first.ms) return row(opts.strict ? "failed" : "warning", `HIT not faster than the ${first.xCache}${retried}`);
  return row("ok", retried.slice(2));
}

function table(rows: Row[], withLanguage: boolean): string {
  const xCache = arrowCells(rows.map((r) => (r.pair.first.error ? "-" : [xCacheLabel(r.pair.first), xCacheLabel(r.pair.second)])));
  return formatTable(
    [
      { header: "URL" },
      ...(withLanguage ? [{ header: "LANG" }] : []),
      { header: "STATUS", align: "right" as const },
      { header: "X-CACHE" },
      { header: "1ST MS", align: "right" as const },
      { header: "2ND MS", align: "right" as const },
      { header: "SPEED-UP", align: "right" as const },
      { header: "RESULT" },
    ],
    rows.map((r, i) => {
      const { first, second } = r.pair;
      const label = r.verdict === "failed" ? "FAILED" : r.verdict;
      return [
        r.job.display,
        ...(withLanguage ? [r.job.language ?? ""] : []),
        first.error ? "-" : String(first.status),
        xCache[i]!,
        fmtMs(first.ms),
        first.error ? "-" : fmtMs(second.ms),
        r.speedup === null ? "-" : `${r.speedup.toFixed(1)}×`,
        r.note ? `${label} (${r.note})` : label,
      ];
    }),
  );
}

/** Reach the worker once before timing anything (opens the connection; shows the cache version). */
async function preflight(endpoint: URL, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(new URL("/__edge/health", endpoint), { signal: AbortSignal.timeout(timeoutMs), headers: { "user-agent": "edge-cache-verify" } });
    const text = await res.text();
    if (!res.ok) return undefined;
    const body = JSON.parse(text) as { cacheVersion?: unknown };
    return typeof body.cacheVersion === "string" ? body.cacheVersion : undefined;
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw new RunError(`cannot reach ${endpoint.origin}: ${describeFetchError(e, timeoutMs)}`);
  }
}

async function main(): Promise<number> {
  const args = parseFlags(process.argv.slice(2), {
    usage: USAGE,
    positionals: true,
    options: {
      ...TARGET_OPTIONS,
      concurrency: { type: "string" },
      "expect-miss": { type: "boolean" },
      strict: { type: "boolean" },
      "confirm-retries": { type: "string" },
    },
  });
  if (!args) return 0;
  const v = args.values;
  const concurrency = positiveInt("concurrency", v.concurrency, 1, 64);
  const confirmRetries = v["confirm-retries"] === "0" ? 0 : positiveInt("confirm-retries", v["confirm-retries"], 2, 10);
  const opts = { strict: !!v.strict, expectMiss: !!v["expect-miss"] };

  const { endpoint, urls, languages, jobs, timeoutMs } = await loadJobs(v, args.positionals, process.env, (l) => process.stderr.write(`${l}\n`));
  const cacheVersion = endpoint ? await preflight(endpoint, timeoutMs) : undefined;

  const progress = createProgress(jobs.length, "verify");
  const rows = await mapLimit(jobs, concurrency, async (job) => {
    const pair = await requestTwice(job.url, { language: job.language, timeoutMs, userAgent: "edge-cache-verify", confirmRetries });
    const r = judge(job, pair, opts);
    progress.tick(`${job.display}${job.language ? ` [${job.language}]` : ""} ${pair.first.error ?? `${xCacheLabel(pair.first)} → ${xCacheLabel(pair.second)}`} ${r.verdict}`);
    return r;
  });
  progress.done();

  const count = (x: Verdict) => rows.filter((r) => r.verdict === x).length;
  const failed = count("failed");
  if (v.json) {
    const out = {
      endpoint: endpoint?.href ?? null,
      cacheVersion: cacheVersion ?? null,
      languages,
      strict: opts.strict,
      expectMiss: opts.expectMiss,
      summary: { urls: urls.length, checks: rows.length, ok: count("ok"), warnings: count("warning"), failed },
      results: rows.map((r) => ({
        url: r.job.url,
        language: r.job.language ?? null,
        verdict: r.verdict,
        note: r.note || null,
        speedup: r.speedup === null ? null : Number(r.speedup.toFixed(3)),
        first: r.pair.first,
        second: r.pair.first.error ? null : r.pair.second,
        confirmRetries: r.pair.retries,
      })),
    };
    printJson(out);
    return failed ? 1 : 0;
  }

  const head = `Verified ${urls.length} URL${urls.length === 1 ? "" : "s"}${languages.length ? ` × ${languages.length} languages (${languages.join(", ")})` : ""}`
    + `${endpoint ? ` via ${endpoint.origin}` : ""}${cacheVersion !== undefined ? ` (cache version ${cacheVersion})` : ""}`;
  const lines = [
    head,
    "",
    table(rows, languages.length > 0),
    "",
    formatPairs([
      ["ok", String(count("ok"))],
      ["warnings", `${count("warning")}${count("warning") && !opts.strict ? "  (not failures; --strict makes them so)" : ""}`],
      ["failed", String(failed)],
    ]),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (failed) process.stderr.write(`error: ${failed} of ${rows.length} check${rows.length === 1 ? "" : "s"} failed\n`);
  return failed ? 1 : 0;
}

await run(main);
