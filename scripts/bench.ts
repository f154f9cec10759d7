/**
 * Benchmark: edge-cache's HIT and MISS paths against baselines, its purge API, the KV operations
 * it makes per request, its bundle size and its startup time, in one invocation and one harness.
 * Modules under scripts/bench/, one job each.
 *
 *   npm run bench [-- --duration <s>] [--connections 1,32] [--targets ...] [--skip ...] [--profile] [--json]
 *
 * Load targets (scripts/bench/scenarios.ts), each run at every connection count (default 1 and 32)
 * with the same autocannon settings:
 *   hit        our worker, one cached path (every response must be a HIT, the origin sees nothing);
 *   bare       a constant-response worker run exactly like ours;
 *   miss       our worker, a unique query per request (every request is a real miss to the origin);
 *   proxy      a bare proxy worker: fetch the origin, return the response;
 *   proxy-put  the bare proxy plus tee and Cache API put in waitUntil (what storing costs in Miniflare);
 *   direct     the test origin itself, no worker;
 *   esi        Edge Side Includes (scripts/bench/esi.ts): our worker with ESI on (its own Miniflare),
 *              five runs at each connection count: esi-plain (a ~32 KiB template HIT, not marked for
 *              ESI), esi-1 / esi-4 (the same template assembled with 1 / 4 cached public fragments),
 *              esi-personal (a signed-in visitor: + a personal fragment from the origin every page),
 *              esi-origin (the test origin alone on that fragment's path); each page checked byte for
 *              byte before and after its run, the origin's requests counted around it;
 *   purge      our purge API (POST /__edge/purge) in two runs, a new tag per request and one tag for
 *              all, each checked afterwards: every answered purge recorded by the coordinator and
 *              published to KV (the journal, per-tag keys), with the time that took (purge-api.ts);
 *              run after every other target, at each connection count, and followed by
 *   hit-after-purge  the HIT path again: what a hit costs right after a burst of purges;
 *   shield     the origin shield (issue 13; scripts/bench/shield.ts), once, after everything else: its
 *              own Miniflare with 3 locations x 2 isolates shield on, the same shield off, and the
 *              stale variants. Origin requests per key for concurrent cold requests (off vs on, counted
 *              by the origin), the latency of a cold miss through the shield vs straight to the origin
 *              and of a location hit on vs off, Durable Object / storage / R2 operations per location
 *              request (shield-counter.ts), and the time to a stale answer when the origin hangs
 *              (default staleWaitMs vs staleWaitMs = originTimeoutMs).
 * Our worker runs under a bench-only wrapper that counts its KV operations (kv-counter.ts): KV
 * reads and keys per request are reported for each of its runs (hit, miss, purge).
 * Bundle size (scripts/bench/build.ts): `wrangler deploy --dry-run`, raw and --minify, vs a bare Hono
 * worker. Startup (scripts/bench/startup.ts): module evaluation in fresh isolates vs bare Hono.
 * Then the targets: HIT/bare throughput >= 0.9, MISS/bare-proxy p50 <= 1.2, MISS/direct p50 <= 1.1,
 * purge API p99 <= 50 ms, KV reads per hit ~ 0 (at most 1 per isolate per tagCheckMemoMs),
 * minified bundle <= 120 KiB, startup <= 1.5x bare Hono; shield: 1 origin request per key, 1 Durable
 * Object request per location miss and none per hit, a stale answer within 1.5 s (p95). Targets are
 * reported, never asserted: the exit status is non-zero only when something is actually wrong (a
 * target does not answer, errors or non-2xx during a run, a wrong X-Cache, the origin seeing a
 * different number of requests than the path under test implies, a purge answered but not recorded
 * or not published, a build that fails).
 *
 * `--profile` instead profiles the HIT and MISS paths through workerd's inspector
 * (scripts/bench/profile-run.ts) and prints the top functions by self time; with --targets, the
 * selected of hit, miss and esi (esi: esi-plain, esi-1 and esi-4 on the ESI worker).
 *
 * The workers run in Miniflare (workerd), reached on Miniflare's own URL, not through `wrangler
 * dev`'s proxy; our worker is bundled from src/index.ts with esbuild, in memory, and given the
 * bindings of scripts/bench/bindings.ts. The test origin runs as its own Node process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { edgeCacheBindings } from "./bench/bindings.ts";
import { buildBareHono, buildOurs, type DeployBuild } from "./bench/build.ts";
import { fmt, messageOf, ROOT } from "./bench/common.ts";
import type { Measured } from "./bench/load.ts";
import { type Options, parseOptions, PROFILED } from "./bench/options.ts";
import { startOriginProcess } from "./bench/origin.ts";
import { type ProfileRun, runProfiles } from "./bench/profile-run.ts";
import {
  bundleReport, loadRatios, loadTable, profileReport, type Ratio, ratioLine, startupReport, staticRatios,
} from "./bench/report.ts";
import { esiFindings, esiRatios, esiReport } from "./bench/report-esi.ts";
import { kvTable, purgeKvRatios, purgeTable, TAG_CHECK_MEMO_MS } from "./bench/report-purge.ts";
import { shieldRatios, shieldReport } from "./bench/report-shield.ts";
import { loadPlan, runTarget, startFleet } from "./bench/scenarios.ts";
import { runShield, type ShieldFindings } from "./bench/shield.ts";
import { measureStartup, type StartupResult } from "./bench/startup.ts";
import { versions } from "./bench/versions.ts";
import { bundleWorker, compatibilityDate, edgeCacheSpec } from "./bench/workers.ts";

const HIT_STORE = "Miniflare's Cache API simulator (a workerd Durable Object with SQLite metadata and on-disk blobs, "
  + "in a temporary directory), not Cloudflare's edge cache; absolute numbers are for this machine only.";

/** Everything one invocation found (the --json object). */
interface Findings {
  results: Measured[];
  builds: { ours?: DeployBuild; bareHono?: DeployBuild };
  startup?: StartupResult;
  profiles: ProfileRun[];
  /** The shield target's findings (absent when it was not run or failed). */
  shield?: ShieldFindings;
  failures: string[];
}

/** About how long the shield target takes (its fleet's start, the rounds, the stale variants' 5 s wait). */
const SHIELD_SECONDS = 20;

/** Cleanups run in reverse on exit or on SIGINT/SIGTERM. */
type Cleanups = (() => Promise<void>)[];

function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`  ${line}\n`);
}

function printHeader(opts: Options, v: Record<string, string>): void {
  const per = opts.warmup + opts.duration;
  if (opts.profile) {
    const profiled = opts.targets.flatMap((t) => (t === "esi" ? ["esi-plain", "esi-1", "esi-4"] : t === "hit" || t === "miss" ? [t] : []));
    console.log(`edge-cache bench --profile: ${profiled.join(", ")}, ${opts.connections.at(-1)} connections, `
      + `${fmt(opts.warmup, 1)} s warm-up + ${fmt(opts.duration, 1)} s profiled each`);
  } else {
    // purge is two runs, each waiting for the coordinator to publish before and after (a few seconds), then HIT again.
    const purge = opts.targets.includes("purge") ? 1 : 0;
    const shield = opts.targets.includes("shield") ? 1 : 0;
    // esi is five runs at each connection count.
    const esi = opts.targets.includes("esi") ? 1 : 0;
    const load = opts.sections.includes("load")
      ? ((opts.targets.length - shield + 2 * purge + 4 * esi) * per + purge * 8) * opts.connections.length + shield * SHIELD_SECONDS : 0;
    const extra = (opts.sections.includes("bundle") || opts.sections.includes("startup") ? 6 : 0)
      + (opts.sections.includes("startup") ? 2 + opts.startupRounds * 0.2 : 0);
    const runs = opts.targets.filter((t) => t !== "shield");
    const loadText = opts.sections.includes("load")
      ? (runs.length ? `${runs.join(", ")} at ${opts.connections.join(" and ")} connections, ${fmt(opts.warmup, 1)} s warm-up + ${fmt(opts.duration, 1)} s measured each; ` : "")
        + (shield ? "shield (fixed rounds, once); " : "")
      : "";
    console.log(`edge-cache bench: ${loadText}${opts.sections.filter((s) => s !== "load").join(" + ") || "no static sections"} (about ${Math.ceil(load + extra + 5)} s)`);
  }
  const load1 = loadavg()[0] ?? 0;
  console.log(`machine: ${availableParallelism()} cores, load average (1 min) ${load1.toFixed(2)} before start`
    + (load1 > 0.5 ? " -- other work is running; numbers will be noisy" : ""));
  console.log(`versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(", ")}`);
}

/** Bundle builds (both) and the startup measurement, each recorded as a failure if it fails. */
async function staticPhase(opts: Options, f: Findings, originUrl: string, compatDate: string, cleanups: Cleanups): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "edge-cache-bench-"));
  const projectTmp = join(ROOT, ".wrangler/tmp", `bench-${process.pid}`);
  cleanups.push(async () => {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(projectTmp, { recursive: true, force: true });
  });
  try {
    progress("building with wrangler deploy --dry-run (raw and --minify): edge-cache, bare Hono");
    f.builds.ours = await buildOurs(tmp);
    f.builds.bareHono = await buildBareHono(tmp, projectTmp, compatDate, ROOT);
  } catch (e) {
    f.failures.push(`bundle: ${messageOf(e)}`);
    return;
  }
  if (!opts.sections.includes("startup")) return;
  try {
    progress(`startup: ${opts.startupRounds} fresh isolates each for an empty module, bare Hono and edge-cache`);
    f.startup = await measureStartup(f.builds.ours, f.builds.bareHono, edgeCacheBindings(originUrl), compatDate, opts.startupRounds);
  } catch (e) {
    f.failures.push(`startup: ${messageOf(e)}`);
  }
}

/** Every selected target at every connection count; stops at the first failed check. */
async function loadPhase(opts: Options, f: Findings, origin: { url: string; close(): Promise<void> }, compatDate: string, cleanups: Cleanups): Promise<void> {
  const bundle = await bundleWorker();
  console.log(`origin: ${origin.url} (test/origin/server.ts, own process); worker: src/index.ts bundled with esbuild `
    + `(${(bundle.code.length / 1024).toFixed(0)} KiB, unminified), compatibility_date ${compatDate} (wrangler.toml)`);
  const fleet = await startFleet(origin, opts.targets, edgeCacheSpec(bundle, edgeCacheBindings(origin.url), compatDate), compatDate, cleanups);
  for (const { run, connections } of loadPlan(opts.targets, opts.connections)) {
    progress(`${run} @${connections} connections`);
    f.results.push(...await runTarget(run, fleet, { duration: opts.duration, warmup: opts.warmup, connections }));
  }
  if (opts.targets.includes("shield")) f.shield = await runShield(bundle, origin, compatDate, cleanups, progress);
}

async function profilePhase(opts: Options, f: Findings, origin: { url: string; close(): Promise<void> }, compatDate: string, cleanups: Cleanups): Promise<void> {
  const bundle = await bundleWorker();
  const connections = opts.connections.at(-1) ?? 32;
  progress(`profiling ${opts.targets.filter((t) => PROFILED.includes(t)).join(", ")} at ${connections} connections`);
  f.profiles = await runProfiles({ duration: opts.duration, warmup: opts.warmup, connections }, opts.targets, bundle,
    edgeCacheBindings(origin.url), compatDate, origin, cleanups);
}

function printLoad(f: Findings, connections: number[]): void {
  const loadRuns = f.results.filter((m) => !m.purge);
  if (loadRuns.length) {
    console.log("");
    // Purge runs have their own table (with what the coordinator published); their notes are listed here.
    console.log(loadTable(loadRuns));
  }
  for (const m of f.results) for (const n of m.notes) console.log(`  ${m.target} @${m.connections}: ${n}`);
  const esi = esiReport(f.results, connections);
  if (esi) {
    console.log("");
    console.log(esi);
  }
  if (f.results.some((m) => m.purge)) {
    console.log("");
    console.log(purgeTable(f.results));
  }
  if (f.results.some((m) => m.kv)) {
    console.log("");
    console.log(kvTable(f.results));
  }
  if (f.shield) {
    console.log("");
    console.log(shieldReport(f.shield));
  }
}

function printProfiles(runs: ProfileRun[]): void {
  for (const r of runs) {
    console.log("");
    const m = r.measured;
    const what = m ? `${fmt(m.rps, 0)} req/s, p50 ${fmt(m.p50)} ms @${m.connections} under the profiler` : "one fresh isolate importing the bundle";
    console.log(profileReport(`${r.target.toUpperCase()} (${r.file}; ${what})`, r.worker));
    const c = r.cacheSimulator;
    if (c) {
      console.log(`  cache simulator isolate (${c.file}): busy ${fmt(c.busyMs / 1000, 2)} s of ${fmt(c.windowMs / 1000, 2)} s; top: `
        + c.entries.slice(0, 3).map((e) => `${e.functionName} ${fmt(e.percent, 0)}%`).join(", "));
    }
  }
}

function printSummary(opts: Options, f: Findings): Ratio[] {
  printLoad(f, opts.connections);
  if (f.builds.ours && opts.sections.includes("bundle")) {
    console.log("");
    console.log(bundleReport([f.builds.ours, ...(f.builds.bareHono ? [f.builds.bareHono] : [])]));
  }
  if (f.startup) {
    console.log("");
    console.log(startupReport(f.startup));
  }
  const ratios = [
    ...loadRatios(f.results, opts.connections),
    ...esiRatios(f.results, opts.connections),
    ...purgeKvRatios(f.results, opts.connections),
    ...(f.shield ? shieldRatios(f.shield) : []),
    ...staticRatios(opts.sections.includes("bundle") ? f.builds.ours : undefined, f.builds.bareHono, f.startup),
  ];
  if (ratios.length) {
    console.log("");
    console.log("targets (ratios are within this invocation):");
    for (const r of ratios) console.log(ratioLine(r));
  }
  printProfiles(f.profiles);
  if (f.results.some((m) => m.target === "hit" || m.target === "miss" || m.target === "proxy-put" || m.target.startsWith("esi-")) || f.shield || f.profiles.length) {
    console.log("");
    console.log(`Cache store: ${HIT_STORE}`);
  }
  return ratios;
}

function printJson(opts: Options, v: Record<string, string>, f: Findings, ratios: Ratio[]): void {
  console.log(JSON.stringify({
    settings: {
      duration: opts.duration, warmup: opts.warmup, connections: opts.connections, pipelining: 1,
      targets: opts.targets, sections: opts.sections, startupRounds: opts.startupRounds, profile: opts.profile,
    },
    versions: v,
    hitStore: "miniflare cache simulator (workerd Durable Object, SQLite + disk blobs)",
    // results[].kv: our worker's KV operations over the measured run; results[].purge: what the coordinator recorded and published.
    kvCounting: { by: "bench wrapper around the worker's env.TAGS (the coordinator's own writes not counted)", tagCheckMemoMs: TAG_CHECK_MEMO_MS, isolates: 1 },
    results: f.results,
    ratios,
    bundle: Object.fromEntries(Object.entries(f.builds).map(([k, b]) => [k, { label: b.label, ...b.size }])),
    startup: f.startup ?? null,
    // shield: the shield target's rounds (scripts/bench/shield.ts ShieldFindings), latencies in ms with their samples.
    shield: f.shield ?? null,
    // esi: the ESI target's setup (templates, fragments, EDGE_CONFIG) and, per connection count, each run with its
    // ratios to esi-plain and the added p50 (report-esi.ts EsiFindings); its runs are in results[] too (results[].esi: checks).
    esi: esiFindings(f.results, opts.connections) ?? null,
    profiles: f.profiles,
    errors: f.failures,
  }));
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) return 0;
  const v = versions();
  const cleanups: Cleanups = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => console.error(`cleanup: ${messageOf(e)}`));
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  printHeader(opts, v);

  const f: Findings = { results: [], builds: {}, profiles: [], failures: [] };
  try {
    const origin = await startOriginProcess();
    cleanups.push(() => origin.close());
    const compatDate = compatibilityDate();
    if (opts.profile) {
      await profilePhase(opts, f, origin, compatDate, cleanups);
    } else {
      if (opts.sections.includes("bundle") || opts.sections.includes("startup")) await staticPhase(opts, f, origin.url, compatDate, cleanups);
      if (opts.sections.includes("load")) await loadPhase(opts, f, origin, compatDate, cleanups);
    }
  } catch (e) {
    f.failures.push(messageOf(e));
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const ratios = printSummary(opts, f);
  for (const failure of f.failures) console.error(`ERROR: ${failure}`);
  if (opts.json) printJson(opts, v, f, ratios);
  return f.failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`ERROR: ${messageOf(e)}`);
    process.exit(1);
  },
);
