/**
 * The measured targets, each with its correctness checks. Run in this order at each connection
 * count, so the two sides of every ratio are measured next to each other in time (the machine's
 * other work drifts): hit, bare, miss, proxy, proxy-put, direct, esi (five runs of its own, one after
 * the other, on its own worker with ESI on: esi.ts). Purge comes after all of them, at
 * each connection count (two runs, see purge-api.ts; each waits until everything is published), so
 * that neither the coordinator's publishing nor the journal it leaves behind touches the other
 * targets; then, with purge, the HIT path once more at each count ("hit-after-purge"): what a hit
 * costs right after a burst of purges (the journal full, its window starting seconds ago). Our
 * worker's runs also count its KV operations.
 */
import { PROXY_PUT_WORKER, PROXY_WORKER, BARE_WORKER } from "./baselines.ts";
import { varsOnly } from "./bindings.ts";
import {
  checkRun, expectHealthy, expectHit, expectMissSample, expectProxied, originCount, primeHit, probe,
} from "./checks.ts";
import { BenchError, expect } from "./common.ts";
import { ESI_DESCRIPTIONS, ESI_RUNS, esiWorkerSpec, prepareEsi, runEsi } from "./esi.ts";
import { countingKv } from "./kv-counter.ts";
import { type LoadSettings, type Measured, measure, UNIQUE } from "./load.ts";
import type { OriginProcess } from "./origin.ts";
import { PURGE_DESCRIPTIONS, runPurges } from "./purge-api.ts";
import { type RunningWorker, startWorker, type WorkerSpec } from "./workers.ts";

export const TARGETS = ["hit", "bare", "miss", "proxy", "proxy-put", "direct", "esi", "purge", "shield"] as const;
export type Target = (typeof TARGETS)[number];

export const HIT_PATH = "/t/bench/hit";
export const MISS_PATH = "/t/bench/miss";
const DIRECT_PATH = "/t/bench/direct";
const PROXY_PATH = "/t/bench/proxy";
const PROXY_PUT_PATH = "/t/bench/proxy-put";

/** A load run: a target, or the HIT path again after the purge runs. */
export type Run = Target | "hit-after-purge";

/** One step of the load phase. */
export interface Step {
  run: Run;
  connections: number;
}

/** The load phase's order (see the module comment). */
export function loadPlan(targets: readonly Target[], connections: readonly number[]): Step[] {
  const steps: Step[] = [];
  for (const c of connections) for (const run of targets) if (run !== "purge" && run !== "shield") steps.push({ run, connections: c });
  if (!targets.includes("purge")) return steps;
  for (const c of connections) steps.push({ run: "purge", connections: c });
  for (const c of connections) steps.push({ run: "hit-after-purge", connections: c });
  return steps;
}

const HIT_AFTER_PURGE = "our worker, the HIT path again right after the purge runs (the journal full: its window starts at the newest purges)";

/** What each target measures (the table's legend and the JSON's `description`). */
export const DESCRIPTIONS: Record<Target, string> = {
  hit: "our worker, one cached path (every response must be a HIT)",
  bare: "constant-response worker",
  miss: "our worker, a unique query per request (every request goes to the origin and is stored)",
  proxy: "bare proxy worker: fetch the origin, return its response",
  "proxy-put": "bare proxy + tee + Cache API put in waitUntil (Miniflare's simulator)",
  direct: "the test origin itself, no worker, a unique query per request",
  esi: `our worker with ESI on (esi.ts), runs ${ESI_RUNS.join(", ")}: ${ESI_RUNS.map((r) => `${r}: ${ESI_DESCRIPTIONS[r]}`).join("; ")}`,
  purge: `${PURGE_DESCRIPTIONS.purge}; then purge-1tag: ${PURGE_DESCRIPTIONS["purge-1tag"]}`,
  shield: "the origin shield (shield.ts): its own fleet of locations, fixed rounds of requests, not a load run",
};

/** The running pieces the targets need (a worker is absent when no selected target uses it). */
export interface Fleet {
  origin: OriginProcess;
  ours?: RunningWorker;
  bare?: RunningWorker;
  proxy?: RunningWorker;
  proxyPut?: RunningWorker;
  /** Our worker with ESI on (esi.ts: ESI_CONFIG), for the esi target. */
  esi?: RunningWorker;
}

/**
 * Start the workers the selected targets need; each is pushed to `cleanups` as soon as it runs.
 * `ours`: our worker's spec (workers.ts edgeCacheSpec: the bundle under the KV-counting wrapper).
 */
export async function startFleet(
  origin: OriginProcess, targets: readonly Target[], ours: WorkerSpec, compatDate: string, cleanups: (() => Promise<void>)[],
): Promise<Fleet> {
  const fleet: Fleet = { origin };
  const want = (...t: Target[]) => t.some((x) => targets.includes(x));
  const start = async (spec: WorkerSpec) => {
    const w = await startWorker(spec);
    cleanups.push(() => w.dispose());
    return w;
  };
  if (want("hit", "miss", "purge")) {
    fleet.ours = await start(ours);
    await expectHealthy(fleet.ours.url);
    if (want("hit", "purge")) await primeHit(fleet.ours.url, HIT_PATH);
  }
  const baseline = (name: string, script: string, vars: Record<string, string>) => start({ name, script, bindings: varsOnly(vars), compatDate });
  if (want("bare")) fleet.bare = await baseline("bare", BARE_WORKER, {});
  if (want("proxy")) fleet.proxy = await baseline("bare-proxy", PROXY_WORKER, { ORIGIN_URL: origin.url });
  if (want("proxy-put")) fleet.proxyPut = await baseline("proxy-put", PROXY_PUT_WORKER, { ORIGIN_URL: origin.url });
  if (want("esi")) {
    fleet.esi = await start(esiWorkerSpec(ours));
    await prepareEsi(fleet.esi.url, origin.url);
  }
  return fleet;
}

function need(w: RunningWorker | undefined, target: string): RunningWorker {
  if (!w) throw new BenchError(`${target}: its worker was not started`);
  return w;
}

/** Measure one target at one connection count, with its checks (purge: two runs). */
export async function runTarget(target: Run, fleet: Fleet, s: LoadSettings): Promise<Measured[]> {
  switch (target) {
    case "hit": return [await runHit(need(fleet.ours, target), fleet.origin, s)];
    case "hit-after-purge": return [await runHit(need(fleet.ours, target), fleet.origin, s, target)];
    case "miss": return [await runMiss(need(fleet.ours, target), fleet.origin, s)];
    case "bare": return [await runBare(need(fleet.bare, target), s)];
    case "proxy": return [await runProxy(target, need(fleet.proxy, target), fleet.origin, PROXY_PATH, s)];
    case "proxy-put": return [await runProxy(target, need(fleet.proxyPut, target), fleet.origin, PROXY_PUT_PATH, s)];
    case "direct": return [await runDirect(fleet.origin, s)];
    case "esi": return runEsi(need(fleet.esi, target), fleet.origin, s);
    case "purge": return runPurges(need(fleet.ours, target), s);
    case "shield": throw new BenchError("shield is not a load run: see shield.ts (runShield)");
  }
}

async function runHit(ours: RunningWorker, origin: OriginProcess, s: LoadSettings, target: "hit" | "hit-after-purge" = "hit"): Promise<Measured> {
  await expectHit(ours.url, HIT_PATH, "before");
  const before = await originCount(origin.url, HIT_PATH);
  const kv = countingKv(ours.url, s);
  const description = target === "hit" ? DESCRIPTIONS.hit : HIT_AFTER_PURGE;
  const m = await measure(kv.settings, { target, description, base: ours.url, path: HIT_PATH, warmPath: HIT_PATH, unique: false });
  m.kv = kv.result(m.requests, m.seconds);
  await expectHit(ours.url, HIT_PATH, "after");
  // Between the two counter reads (the second is one request itself) the origin must have seen nothing.
  const seen = (await originCount(origin.url, HIT_PATH)) - before - 1;
  expect(seen === 0, `${target} @${s.connections}: the origin saw ${seen} requests for ${HIT_PATH} during the run; expected 0`);
  m.notes.push("X-Cache: HIT checked before and after; the origin saw 0 requests for the path during the run");
  checkRun(m);
  return m;
}

/**
 * Every measured request was a real miss when the origin saw at least one request per response
 * (less `extra` requests of our own; requests still in flight when the run stopped reach the
 * origin but are not counted as responses, so it may see a few more).
 */
async function expectOriginSawAll(m: Measured, origin: OriginProcess, path: string, before: number, extra: number): Promise<number> {
  const seen = (await originCount(origin.url, path)) - before - 1 - extra;
  expect(seen >= m.requests, `${m.target} @${m.connections}: the origin saw ${seen} requests for ${m.requests} responses: some never reached it`);
  return seen;
}

async function runMiss(ours: RunningWorker, origin: OriginProcess, s: LoadSettings): Promise<Measured> {
  const before = await originCount(origin.url, MISS_PATH);
  await expectMissSample(ours.url, MISS_PATH, `before-${s.connections}`);
  const kv = countingKv(ours.url, s);
  const m = await measure(kv.settings, {
    target: "miss", description: DESCRIPTIONS.miss, base: ours.url, path: `${MISS_PATH}?u=${UNIQUE}`, warmPath: `${MISS_PATH}-warm?u=${UNIQUE}`, unique: true,
  });
  m.kv = kv.result(m.requests, m.seconds);
  await expectMissSample(ours.url, MISS_PATH, `after-${s.connections}`);
  const seen = await expectOriginSawAll(m, origin, MISS_PATH, before, 2);
  m.notes.push(`X-Cache: MISS checked on samples before and after; the origin saw ${seen} requests for ${m.requests} responses`);
  checkRun(m);
  return m;
}

/** Poll the proxy-put worker's /__match until `url` is stored (the put runs in waitUntil). */
async function expectStored(worker: RunningWorker, url: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const p = await probe(`${worker.url}/__match?url=${encodeURIComponent(url)}`);
    if (p.body === "HIT") return;
    if (Date.now() > deadline) throw new BenchError(`proxy-put: ${url} was not stored by cache.put within 5 s (${p.status} ${p.body})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runProxy(target: Target, worker: RunningWorker, origin: OriginProcess, path: string, s: LoadSettings): Promise<Measured> {
  const before = await originCount(origin.url, path);
  const sample = await expectProxied(worker.url, path, `${s.connections}`);
  if (target === "proxy-put") await expectStored(worker, sample);
  const m = await measure(s, { target, description: DESCRIPTIONS[target], base: worker.url, path: `${path}?u=${UNIQUE}`, warmPath: `${path}-warm?u=${UNIQUE}`, unique: true });
  const seen = await expectOriginSawAll(m, origin, path, before, 1);
  m.notes.push(`sample passed through${target === "proxy-put" ? " and stored" : ""}; the origin saw ${seen} requests for ${m.requests} responses`);
  checkRun(m);
  return m;
}

async function runDirect(origin: OriginProcess, s: LoadSettings): Promise<Measured> {
  const sample = await probe(`${origin.url}${DIRECT_PATH}?u=sample-${process.pid}`);
  expect(sample.status === 200 && sample.xCache === null, `origin ${DIRECT_PATH}: expected 200 without X-Cache, got ${sample.status}`);
  const m = await measure(s, {
    target: "direct", description: DESCRIPTIONS.direct, base: origin.url, path: `${DIRECT_PATH}?u=${UNIQUE}`, warmPath: `${DIRECT_PATH}-warm?u=${UNIQUE}`, unique: true,
  });
  checkRun(m);
  return m;
}

async function runBare(bare: RunningWorker, s: LoadSettings): Promise<Measured> {
  const sample = await probe(`${bare.url}${HIT_PATH}`);
  expect(sample.status === 200 && sample.body === "ok", `bare worker: expected 200 "ok", got ${sample.status}`);
  const m = await measure(s, { target: "bare", description: DESCRIPTIONS.bare, base: bare.url, path: HIT_PATH, warmPath: HIT_PATH, unique: false });
  checkRun(m);
  return m;
}
