/**
 * Benchmark: edge-cache HIT and MISS paths against their baselines, in one run, one harness.
 *
 *   npm run bench [-- --duration <s>] [--connections <n>] [--json]
 *
 * Four targets, each driven by the same autocannon settings (connections, duration, a short
 * unmeasured warm-up first):
 *   hit    our worker, one path that is cached before measuring (every response must be a HIT);
 *   miss   our worker, a unique query per request, so every request is a real miss that goes to the origin;
 *   direct the test origin itself, the same kind of /t/... request with a unique query, no worker;
 *   bare   a constant-response worker (`new Response("ok")`) run exactly like ours.
 * Then the ratios HIT/bare (throughput, target >= 0.9) and MISS/direct (p50 latency, target <= 1.1,
 * plus throughput) are printed. Targets are reported, never asserted: the exit code is non-zero only
 * when something is actually wrong (a target does not answer, errors or non-2xx during a run, a wrong
 * X-Cache, or the origin seeing a different number of requests than the path under test implies).
 *
 * The workers run in Miniflare (workerd) and are reached on Miniflare's own URL, not through
 * `wrangler dev`'s proxy. The worker is bundled from src/index.ts with esbuild, in memory.
 * The test origin runs as its own Node process (test/origin/server.ts standalone) so it does not
 * share an event loop with the load generator.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import * as esbuild from "esbuild";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { parseFlags } from "./lib/cli.ts";
import { formatTable } from "./lib/table.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HIT_PATH = "/t/bench/hit";
const MISS_PATH = "/t/bench/miss";
const DIRECT_PATH = "/t/bench/direct";
/** autocannon replaces "[<id>]" with a unique, URL-safe id in every request (idReplacement). */
const UNIQUE = "[<id>]";

class BenchError extends Error {
  override name = "BenchError";
}

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  duration: number;
  connections: number;
  warmup: number;
  json: boolean;
}

const USAGE = [
  "usage: npm run bench -- [--duration <s>] [--connections <n>] [--warmup <s>] [--json]",
  "  --duration     seconds measured per target (default 10; four targets)",
  "  --connections  concurrent keep-alive connections (default 32)",
  "  --warmup       unmeasured seconds before each target (default: 20% of duration, 1..2 s)",
  "  --json         also print the results as one JSON object (last line of output)",
].join("\n");

/** The options, or undefined when --help was printed. A bad flag throws (reported as ERROR, exit 1). */
function parseOptions(argv: string[]): Options | undefined {
  const args = parseFlags(argv, {
    usage: USAGE,
    options: {
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "32" },
      warmup: { type: "string" },
    },
  });
  if (!args) return undefined;
  const values = args.values;
  const duration = positive("duration", values.duration);
  const connections = Math.floor(positive("connections", values.connections));
  const warmup = values.warmup !== undefined ? Number(values.warmup) : Math.min(2, Math.max(1, duration * 0.2));
  if (!Number.isFinite(warmup) || warmup < 0) throw new BenchError(`--warmup must be a number >= 0, got "${values.warmup}"`);
  return { duration, connections, warmup, json: !!values.json };
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new BenchError(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Versions

function packageVersion(name: string, from: string = import.meta.url): string {
  try {
    const req = createRequire(from);
    let dir = dirname(req.resolve(name));
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? "?";
      } catch { /* keep walking up */ }
      const up = dirname(dir);
      if (up === dir) return "?";
      dir = up;
    }
  } catch {
    return "?";
  }
}

function versions() {
  const require = createRequire(import.meta.url);
  const miniflareEntry = require.resolve("miniflare");
  return {
    node: process.version,
    miniflare: packageVersion("miniflare"),
    workerd: packageVersion("workerd", miniflareEntry),
    autocannon: packageVersion("autocannon"),
    esbuild: esbuild.version,
  };
}

// ---------------------------------------------------------------------------------------------
// The test origin, in its own process

interface OriginProcess {
  url: string;
  close(): Promise<void>;
}

async function startOriginProcess(): Promise<OriginProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "test/origin/server.ts"), "0"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new BenchError("test origin did not start within 10 s")), 10_000);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new BenchError(`test origin exited early (code ${code})`));
    });
  });
  return {
    url,
    close: () => new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once("exit", () => done());
      child.kill("SIGTERM");
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Workers in Miniflare

async function bundleWorker(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [join(ROOT, "src/index.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2024",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    logLevel: "silent",
  });
  const file = result.outputFiles[0];
  if (!file) throw new BenchError("esbuild produced no output for src/index.ts");
  return file.text;
}

type WorkerEnv = NonNullable<Extract<MiniflareOptions["workers"], unknown[]>[number]["config"]["env"]>;

/** The worker's compatibility date, as deployed: wrangler.toml's top-level compatibility_date. */
function compatibilityDate(): string {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const m = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml);
  if (!m?.[1]) throw new BenchError("wrangler.toml has no top-level compatibility_date");
  return m[1];
}

/** Miniflare 5's native options for one ES-module worker (the same for ours and the bare one). */
function workerOptions(name: string, script: string, env: WorkerEnv, compatDate: string): MiniflareOptions {
  return {
    enableDevRegistry: false,
    logRequests: false,
    telemetry: { enabled: false },
    workers: [{
      config: {
        name,
        compatibilityDate: compatDate,
        manifest: { mainModule: "index.js", modules: { "index.js": { type: "esm", contents: script } } },
        env,
      },
    }],
  };
}

interface RunningWorker {
  url: string;
  dispose(): Promise<void>;
}

async function startWorker(name: string, script: string, env: WorkerEnv, compatDate: string): Promise<RunningWorker> {
  const mf = new Miniflare(workerOptions(name, script, env, compatDate));
  try {
    const url = await mf.ready;
    return { url: url.origin, dispose: () => mf.dispose() };
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }
}

const BARE_WORKER = `export default { fetch() { return new Response("ok"); } };\n`;

// ---------------------------------------------------------------------------------------------
// Load

interface Measured {
  target: string;
  description: string;
  url: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  notes: string[];
}

interface LoadResult {
  completed: number;
  seconds: number;
  latencies: Float64Array;
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** One autocannon run; latencies are recorded at full (sub-ms) resolution from its response events. */
function load(url: string, seconds: number, connections: number, unique: boolean): Promise<LoadResult> {
  return new Promise((done, fail) => {
    let lat = new Float64Array(1 << 16);
    let n = 0;
    const instance = autocannon({
      url,
      connections,
      duration: seconds,
      pipelining: 1,
      timeout: 10,
      idReplacement: unique,
    }, (err: unknown, result: autocannon.Result) => {
      if (err) return fail(err instanceof Error ? err : new Error(String(err)));
      done({
        completed: result.requests.total,
        seconds: result.duration,
        latencies: lat.subarray(0, n),
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
      });
    });
    // The tracker emits (client, statusCode, bytes, ms) for every response; @types/autocannon omits `client`.
    (instance as unknown as NodeJS.EventEmitter).on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status < 200 || status > 299) return;
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = ms;
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

async function measure(
  opts: Options, target: string, description: string, base: string, path: string, warmPath: string, unique: boolean,
): Promise<Measured> {
  if (opts.warmup > 0) await load(base + warmPath, opts.warmup, opts.connections, unique);
  const r = await load(base + path, opts.duration, opts.connections, unique);
  const sorted = r.latencies.slice().sort();
  return {
    target, description, url: base + path,
    requests: r.completed,
    seconds: r.seconds,
    rps: r.seconds > 0 ? r.completed / r.seconds : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Checks (plain fetch on separate connections, before and after each measured run)

interface Probe {
  status: number;
  xCache: string | null;
  cacheStatus: string | null;
  originCount: number | null;
  body: string;
}

async function probe(url: string): Promise<Probe> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new BenchError(`${url} did not answer: ${(e as Error).message}`);
  }
  const body = await res.text();
  const count = res.headers.get("x-origin-count");
  return {
    status: res.status,
    xCache: res.headers.get("x-cache"),
    cacheStatus: res.headers.get("cache-status"),
    originCount: count === null ? null : Number(count),
    body,
  };
}

function expect(cond: boolean, message: string): void {
  if (!cond) throw new BenchError(message);
}

/** The origin's per-path request counter for `path` (reading it is one more request, included). */
async function originCount(originUrl: string, path: string): Promise<number> {
  const p = await probe(originUrl + path);
  expect(p.status === 200 && p.originCount !== null, `origin ${path}: expected 200 with x-origin-count, got ${p.status}`);
  return p.originCount ?? 0;
}

/** Prime the HIT path and wait for the store (it happens in waitUntil, after the MISS response). */
async function primeHit(workerUrl: string): Promise<void> {
  const first = await probe(workerUrl + HIT_PATH);
  expect(first.status === 200, `worker ${HIT_PATH}: expected 200, got ${first.status}`);
  expect(first.xCache === "MISS", `worker ${HIT_PATH}: first request expected X-Cache: MISS, got ${first.xCache} (${first.cacheStatus})`);
  const deadline = Date.now() + 5_000;
  for (;;) {
    const p = await probe(workerUrl + HIT_PATH);
    if (p.xCache === "HIT") return;
    if (Date.now() > deadline) {
      throw new BenchError(`worker ${HIT_PATH}: never became a HIT (last X-Cache: ${p.xCache}; Cache-Status: ${p.cacheStatus})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectMissSample(workerUrl: string, tag: string): Promise<void> {
  const url = `${workerUrl}${MISS_PATH}?u=sample-${tag}-${process.pid}`;
  const p = await probe(url);
  expect(p.status === 200, `worker ${url}: expected 200, got ${p.status}`);
  expect(p.xCache === "MISS" && /fwd=(uri-)?miss/.test(p.cacheStatus ?? ""),
    `worker ${url}: expected X-Cache: MISS (fwd=uri-miss), got ${p.xCache} (${p.cacheStatus})`);
}

function checkRun(m: Measured): void {
  expect(m.requests > 0, `${m.target}: no request completed`);
  expect(m.errors === 0 && m.non2xx === 0,
    `${m.target}: ${m.errors} errors (${m.timeouts} timeouts) and ${m.non2xx} non-2xx responses during the run`);
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function table(rows: Measured[]): string {
  return formatTable(
    [
      { header: "target" },
      ...["req/s", "p50 ms", "p90 ms", "p99 ms", "requests", "errors/non-2xx"].map((header) => ({ header, align: "right" as const })),
    ],
    rows.map((m) => [m.target, fmt(m.rps, 0), fmt(m.p50), fmt(m.p90), fmt(m.p99), String(m.requests), `${m.errors}/${m.non2xx}`]),
    { indent: "", rule: true },
  );
}

interface Ratio {
  name: string;
  value: number;
  target?: { op: ">=" | "<="; value: number };
  pass?: boolean;
}

function ratio(name: string, value: number, target?: { op: ">=" | "<="; value: number }): Ratio {
  if (!target) return { name, value };
  const pass = target.op === ">=" ? value >= target.value : value <= target.value;
  return { name, value, target, pass };
}

function ratioLine(r: Ratio): string {
  const head = `${r.name.padEnd(34)} ${fmt(r.value, 3).padStart(6)}`;
  if (!r.target) return `${head}   (informational)`;
  return `${head}   target ${r.target.op} ${r.target.value}   ${r.pass ? "PASS" : "MISS-TARGET"}`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) return 0;
  const v = versions();
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const perTarget = opts.warmup + opts.duration;
  console.log(`edge-cache bench: 4 targets x (${fmt(opts.warmup, 1)} s warm-up + ${fmt(opts.duration, 1)} s measured), `
    + `${opts.connections} connections, keep-alive, pipelining 1 (about ${Math.ceil(4 * perTarget + 5)} s)`);
  const load1 = loadavg()[0] ?? 0;
  console.log(`machine: ${availableParallelism()} cores, load average (1 min) ${load1.toFixed(2)} before start`
    + (load1 > 0.5 ? " -- other work is running; numbers will be noisy" : ""));
  console.log(`versions: node ${v.node}, miniflare ${v.miniflare}, workerd ${v.workerd}, autocannon ${v.autocannon}, esbuild ${v.esbuild}`);

  const results: Measured[] = [];
  const failures: string[] = [];
  try {
    const origin = await startOriginProcess();
    cleanups.push(() => origin.close());
    const script = await bundleWorker();
    const compatDate = compatibilityDate();
    console.log(`origin: ${origin.url} (test/origin/server.ts, own process); worker: src/index.ts bundled with esbuild `
      + `(${(script.length / 1024).toFixed(0)} KiB), compatibility_date ${compatDate} (wrangler.toml)`);

    // 1 + 2: our worker.
    const ours = await startWorker("edge-cache", script, {
      ORIGIN_URL: { type: "text", value: origin.url },
      CACHE_VERSION: { type: "text", value: "bench" },
      // Miniflare pipes every console.log line through Node: the per-request log line would be
      // measured instead of the cache. (In production, logs cost the worker next to nothing.)
      LOG_REQUESTS: { type: "text", value: "false" },
      TAGS: { type: "kv", id: "TAGS" },
    }, compatDate);
    cleanups.push(() => ours.dispose());
    const health = await probe(`${ours.url}/__edge/health`);
    expect(health.status === 200, `worker /__edge/health: expected 200, got ${health.status}: ${health.body.slice(0, 200)}`);

    await primeHit(ours.url);
    const hitBefore = await originCount(origin.url, HIT_PATH);
    const hit = await measure(opts, "hit", "our worker, cached path", ours.url, HIT_PATH, HIT_PATH, false);
    results.push(hit);
    const hitAfter = await probe(ours.url + HIT_PATH);
    expect(hitAfter.xCache === "HIT", `worker ${HIT_PATH}: expected X-Cache: HIT after the run, got ${hitAfter.xCache}`);
    // Between the two counter reads (the second is one request itself) the origin must have seen nothing.
    const hitOrigin = (await originCount(origin.url, HIT_PATH)) - hitBefore - 1;
    expect(hitOrigin === 0, `hit: the origin saw ${hitOrigin} requests for ${HIT_PATH} during the run; expected 0`);
    hit.notes.push("X-Cache: HIT checked before and after; the origin saw 0 requests for the path during the run");
    checkRun(hit);

    const missBefore = await originCount(origin.url, MISS_PATH);
    await expectMissSample(ours.url, "before");
    const miss = await measure(opts, "miss", "our worker, unique query per request",
      ours.url, `${MISS_PATH}?u=${UNIQUE}`, `${MISS_PATH}-warm?u=${UNIQUE}`, true);
    results.push(miss);
    await expectMissSample(ours.url, "after");
    // Every measured request is a real miss when the origin saw at least one request per response
    // (minus the two samples and the counter read; requests still in flight when the run stopped
    // reach the origin but are not counted as responses, so it may see a few more).
    const missOrigin = (await originCount(origin.url, MISS_PATH)) - missBefore - 1 - 2;
    expect(missOrigin >= miss.requests,
      `miss: the origin saw ${missOrigin} requests for ${miss.requests} worker responses: some were not misses`);
    miss.notes.push(`X-Cache: MISS checked on samples before and after; the origin saw ${missOrigin} requests for ${miss.requests} responses`);
    checkRun(miss);
    cleanups.pop();
    await ours.dispose();

    // 3: the origin itself.
    const sample = await probe(`${origin.url}${DIRECT_PATH}?u=sample-${process.pid}`);
    expect(sample.status === 200 && sample.xCache === null, `origin ${DIRECT_PATH}: expected 200 without X-Cache, got ${sample.status}`);
    const direct = await measure(opts, "direct", "test origin, no worker, unique query per request",
      origin.url, `${DIRECT_PATH}?u=${UNIQUE}`, `${DIRECT_PATH}-warm?u=${UNIQUE}`, true);
    results.push(direct);
    checkRun(direct);

    // 4: the bare worker, run the same way as ours.
    const bare = await startWorker("bare", BARE_WORKER, {}, compatDate);
    cleanups.push(() => bare.dispose());
    const bareSample = await probe(`${bare.url}${HIT_PATH}`);
    expect(bareSample.status === 200 && bareSample.body === "ok", `bare worker: expected 200 "ok", got ${bareSample.status}`);
    const bareRun = await measure(opts, "bare", "constant-response worker", bare.url, HIT_PATH, HIT_PATH, false);
    results.push(bareRun);
    checkRun(bareRun);
  } catch (e) {
    failures.push(e instanceof Error ? e.message : String(e));
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  console.log("");
  if (results.length) console.log(table(results));
  for (const m of results) for (const n of m.notes) console.log(`  ${m.target}: ${n}`);

  const by = (t: string) => results.find((m) => m.target === t);
  const ratios: Ratio[] = [];
  const [hit, miss, direct, bare] = [by("hit"), by("miss"), by("direct"), by("bare")];
  if (hit && bare) ratios.push(ratio("HIT/bare throughput", hit.rps / bare.rps, { op: ">=", value: 0.9 }));
  if (miss && direct) {
    ratios.push(ratio("MISS/direct p50 latency", miss.p50 / direct.p50, { op: "<=", value: 1.1 }));
    ratios.push(ratio("MISS/direct throughput", miss.rps / direct.rps));
  }
  if (ratios.length) {
    console.log("");
    for (const r of ratios) console.log(ratioLine(r));
  }

  console.log("");
  console.log("HIT store: Miniflare's Cache API simulator (a workerd Durable Object with SQLite metadata and on-disk blobs, "
    + "in a temporary directory), not Cloudflare's edge cache; absolute numbers are for this machine only.");
  for (const f of failures) console.error(`ERROR: ${f}`);

  if (opts.json) {
    console.log(JSON.stringify({
      settings: { duration: opts.duration, warmup: opts.warmup, connections: opts.connections, pipelining: 1 },
      versions: v,
      hitStore: "miniflare cache simulator (workerd Durable Object, SQLite + disk blobs)",
      results,
      ratios,
      errors: failures,
    }));
  }
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`ERROR: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
