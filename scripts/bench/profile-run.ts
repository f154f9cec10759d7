/**
 * `--profile`: CPU profiles of our worker's HIT and MISS paths under load. The worker runs with
 * workerd's inspector open; each path gets its usual warm-up, then the profiler samples our
 * worker's isolate (and Miniflare's Cache API simulator, a separate isolate in the same workerd,
 * so MISS shows what storing costs there) for the measured run, with the usual checks around it.
 * With the esi target selected, the same for the ESI worker (esi.ts: ESI on, primed): esi-plain,
 * esi-1 and esi-4, so an assembled page's profile sits next to the plain HIT of the same bytes.
 * Then the startup: one fresh isolate evaluating the bundle (see startup.ts for the method).
 * Profiles go to .prof/<name>.cpuprofile (load them in Chrome DevTools or VS Code).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Miniflare } from "miniflare";
import type { BenchBindings } from "./bindings.ts";
import { expectHealthy, primeHit } from "./checks.ts";
import { BenchError, ROOT } from "./common.ts";
import { type EsiRun, esiWorkerSpec, prepareEsi, runEsiOne } from "./esi.ts";
import type { LoadSettings, Measured } from "./load.ts";
import type { OriginProcess } from "./origin.ts";
import {
  connect, type InspectorSession, listTargets, type ProfileSummary, startProfiling, stopProfiling, summarize,
} from "./profile.ts";
import { type Fleet, HIT_PATH, runTarget, type Target } from "./scenarios.ts";
import { type SourceResolver, sourceResolver } from "./sourcemap.ts";
import { startupOptions } from "./startup.ts";
import { EDGE_CACHE_WORKER, edgeCacheSpec, type RunningWorker, startWorker, type WorkerBundle } from "./workers.ts";

export const PROFILE_DIR = join(ROOT, ".prof");
const SAMPLING_INTERVAL_US = 100;
const TOP = 15;
const WORKER_NAME = EDGE_CACHE_WORKER;

/** The ESI runs the profile takes with the esi target: the plain HIT of the same bytes and two assembled pages. */
const ESI_PROFILED: readonly EsiRun[] = ["esi-plain", "esi-1", "esi-4"];

export interface ProfileRun {
  target: "hit" | "miss" | "startup" | EsiRun;
  file: string;
  /** The load run under the profiler (absent for startup). */
  measured?: Measured;
  worker: ProfileSummary;
  /** The Cache API simulator's isolate over the same run. */
  cacheSimulator?: ProfileSummary & { file: string };
}

/** Our worker's inspector session first, then the cache simulator's (targets "cache:*"), if listed. */
async function sessionsFor(inspector: URL): Promise<{ ours: InspectorSession; cache: InspectorSession[]; cacheIds: string[] }> {
  const targets = await listTargets(inspector);
  const ours = targets.find((t) => t.id === `core:user:${WORKER_NAME}`);
  if (!ours) throw new BenchError(`inspector: no target for core:user:${WORKER_NAME} (have ${targets.map((t) => t.id).join(", ")})`);
  const cacheTargets = targets.filter((t) => t.id === "cache:cache");
  return { ours: await connect(ours), cache: await Promise.all(cacheTargets.map(connect)), cacheIds: cacheTargets.map((t) => t.id) };
}

/** Profile the selected of HIT, MISS (our worker) and the ESI runs (the ESI worker) at `connections` for `duration` s each; writes the .cpuprofile files. */
export async function runProfiles(
  opts: { duration: number; warmup: number; connections: number }, targets: readonly Target[], bundle: WorkerBundle, bindings: BenchBindings,
  compatDate: string, origin: OriginProcess, cleanups: (() => Promise<void>)[],
): Promise<ProfileRun[]> {
  if (typeof WebSocket === "undefined") throw new BenchError("--profile needs Node 22's global WebSocket: run it with `npm run bench`, which uses the project's Node");
  const resolve = sourceResolver(bundle.map);
  mkdirSync(PROFILE_DIR, { recursive: true });
  const runs: ProfileRun[] = [];
  const paths = (["hit", "miss"] as const).filter((t) => targets.includes(t));
  if (paths.length) {
    const worker = await startWorker(edgeCacheSpec(bundle, bindings, compatDate, true));
    cleanups.push(() => worker.dispose());
    const fleet: Fleet = { origin, ours: worker };
    await expectHealthy(worker.url);
    await primeHit(worker.url, HIT_PATH);
    const sessions = await profiled(worker, cleanups);
    for (const target of paths) {
      runs.push(await profileOne(target, opts, sessions, bundle, resolve, async (s) => (await runTarget(target, fleet, s))[0]));
    }
  }
  if (targets.includes("esi")) {
    const worker = await startWorker(esiWorkerSpec(edgeCacheSpec(bundle, bindings, compatDate, true)));
    cleanups.push(() => worker.dispose());
    await prepareEsi(worker.url, origin.url);
    const sessions = await profiled(worker, cleanups);
    for (const run of ESI_PROFILED) runs.push(await profileOne(run, opts, sessions, bundle, resolve, (s) => runEsiOne(run, worker, origin, s)));
  }
  runs.push(await profileStartup(bundle, bindings, compatDate, resolve));
  return runs;
}

/** The worker's inspector sessions (ours first, then the cache simulator's), closed at cleanup. */
async function profiled(worker: RunningWorker, cleanups: (() => Promise<void>)[]): Promise<InspectorSession[]> {
  const sessions = await sessionsFor(await worker.mf.getInspectorURL());
  cleanups.push(async () => [sessions.ours, ...sessions.cache].forEach((s) => s.close()));
  return [sessions.ours, ...sessions.cache];
}

/** One measured run (with its checks) under the profiler, written to .prof/<target>.cpuprofile. */
async function profileOne(
  target: Exclude<ProfileRun["target"], "startup">, opts: { duration: number; warmup: number; connections: number },
  all: InspectorSession[], bundle: WorkerBundle, resolve: SourceResolver,
  run: (s: LoadSettings) => Promise<Measured | undefined>,
): Promise<ProfileRun> {
  let profiles: Awaited<ReturnType<typeof stopProfiling>> = [];
  const measured = await run({
    ...opts,
    hooks: { before: () => startProfiling(all, SAMPLING_INTERVAL_US), after: async () => void (profiles = await stopProfiling(all)) },
  });
  const [mine, cache] = profiles;
  if (!mine) throw new BenchError(`${target}: no profile`);
  const file = join(PROFILE_DIR, `${target}.cpuprofile`);
  writeFileSync(file, JSON.stringify(mine));
  const out: ProfileRun = { target, file: relative(ROOT, file), ...(measured ? { measured } : {}), worker: summarize(mine, TOP, bundle.name, resolve) };
  if (cache) {
    const cacheFile = join(PROFILE_DIR, `${target}.cache-simulator.cpuprofile`);
    writeFileSync(cacheFile, JSON.stringify(cache));
    out.cacheSimulator = { ...summarize(cache, 5), file: relative(ROOT, cacheFile) };
  }
  return out;
}

/**
 * Profile one fresh isolate importing the (unminified) bundle. Self times come from sample counts,
 * so the idle gap the sampler folds into the first sample does not count; the profiler gets 100 ms
 * to start sampling before the request.
 */
async function profileStartup(bundle: WorkerBundle, bindings: BenchBindings, compatDate: string, resolve: SourceResolver): Promise<ProfileRun> {
  const candidate = { key: "ours" as const, label: WORKER_NAME, mainModule: bundle.name, modules: { [bundle.name]: bundle.code }, bindings };
  const mf = new Miniflare({ ...startupOptions([candidate], 1, compatDate), inspectorPort: 0 });
  try {
    await mf.ready;
    const target = (await listTargets(await mf.getInspectorURL())).find((t) => t.id === "core:user:ours-0");
    if (!target) throw new BenchError("startup profile: no inspector target core:user:ours-0");
    const session = await connect(target);
    try {
      await startProfiling([session], 50);
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(await mf.unsafeGetDirectURL("ours-0"), { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (res.status !== 200) throw new BenchError(`startup profile: the bundle failed to evaluate (${res.status}): ${body.slice(0, 300)}`);
      const [profile] = await stopProfiling([session]);
      if (!profile) throw new BenchError("startup profile: no profile");
      const file = join(PROFILE_DIR, "startup.cpuprofile");
      writeFileSync(file, JSON.stringify(profile));
      return { target: "startup", file: relative(ROOT, file), worker: summarize(profile, TOP, bundle.name, resolve) };
    } finally {
      session.close();
    }
  } finally {
    await mf.dispose();
  }
}
