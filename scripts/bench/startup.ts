/**
 * Startup time: how long a fresh isolate takes to evaluate the worker's modules (top-level code,
 * which for us includes validating the configuration: src/index.ts calls appFor(env) at load).
 *
 * Method. Like `wrangler check startup`, each worker's main module is a wrapper whose fetch handler
 * does `await import("./<bundle>")`, so evaluation happens during a request instead of at workerd
 * start. Unlike it, the time is taken from the wall clock, not from a CPU profile: workerd's sampler
 * takes no samples while the thread is idle and folds the whole gap into the next sample, so for a
 * small worker wrangler's "Active" figure is 0 to ~15 ms depending on where one or two samples land.
 * Here every copy is its own worker (own isolate) in one workerd: the first request (import +
 * evaluate) minus the fastest of three warm ones is measured for `rounds` fresh copies of each of:
 * an empty module (the control: what a first request costs by itself), the bare Hono worker and
 * ours, interleaved; startup = median(ours) - median(empty). Module parsing happens when workerd
 * loads the worker, before any request, and is not included; bundle size stands for it.
 */
import { Miniflare, type MiniflareOptions } from "miniflare";
import { type BenchBindings, doStubWorker, durableObjectClasses, miniflareBindings, varsOnly } from "./bindings.ts";
import type { DeployBuild } from "./build.ts";
import { BenchError, median } from "./common.ts";
import { QUIET } from "./workers.ts";

/** Rounds run before the measured ones, discarded (the first requests of a new workerd are slower). */
const WARM_ROUNDS = 2;
/** Requests after the first on each copy; the fastest is the warm baseline (one slow one is noise, not startup). */
const WARM_REQUESTS = 3;
const WRAPPER = "__bench_startup.js";
const DO_HOST = "startup-do-stubs";

export interface StartupSample {
  label: string;
  /** First request minus the fastest of the next three, ms, one per measured round. */
  samples: number[];
  /** median(samples) - median(control samples): the module's evaluation time. */
  ms: number;
}

export interface StartupResult {
  method: string;
  rounds: number;
  control: StartupSample;
  ours: StartupSample;
  bareHono: StartupSample;
}

/** One module set to evaluate: worker copies are named `<key>-<i>`. */
export interface Candidate {
  key: "control" | "bareHono" | "ours";
  label: string;
  mainModule: string;
  modules: Record<string, string>;
  bindings: BenchBindings;
}

/** The wrapper plus the build's modules, as one worker's Miniflare config. */
function copyConfig(c: Candidate, name: string, compatDate: string, hasDoHost: boolean) {
  const modules: Record<string, { type: "esm"; contents: string }> = {
    [WRAPPER]: {
      type: "esm",
      contents: `export default { async fetch() { await import(${JSON.stringify(`./${c.mainModule}`)}); return new Response("ok"); } };\n`,
    },
  };
  for (const [file, code] of Object.entries(c.modules)) modules[file] = { type: "esm", contents: code };
  const { env } = miniflareBindings(c.bindings, name, hasDoHost ? DO_HOST : undefined);
  return { config: { name, compatibilityDate: compatDate, manifest: { mainModule: WRAPPER, modules }, env }, dev: { unsafeDirectSockets: [{}] } };
}

/**
 * One workerd with `copies` fresh workers per candidate (each the wrapper plus the candidate's
 * modules, reachable on its own direct socket), plus a stub worker exporting any Durable Object
 * classes the bindings name (the wrapper does not export the candidate's classes).
 */
export function startupOptions(candidates: Candidate[], copies: number, compatDate: string): MiniflareOptions {
  const classes = [...new Set(candidates.flatMap((c) => durableObjectClasses(c.bindings)))];
  const workers: MiniflareOptions["workers"] = [];
  for (let i = 0; i < copies; i++) for (const c of candidates) workers.push(copyConfig(c, `${c.key}-${i}`, compatDate, classes.length > 0));
  if (classes.length) {
    const stub = doStubWorker(classes);
    workers.push({ config: { name: DO_HOST, compatibilityDate: compatDate, manifest: { mainModule: "stub.js", modules: { "stub.js": { type: "esm", contents: stub.script } } }, exports: stub.exports } });
  }
  return { ...QUIET, workers };
}

/** Wall time of one GET, ms; a non-200 (the module threw while evaluating) is a BenchError. */
async function timedGet(url: URL, label: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new BenchError(`startup: ${label} failed to evaluate (${res.status}): ${body.slice(0, 300)}`);
  return ms;
}

/** Measure evaluation time of our build and the bare Hono build against an empty module. */
export async function measureStartup(
  ours: DeployBuild, bareHono: DeployBuild, bindings: BenchBindings, compatDate: string, rounds: number,
): Promise<StartupResult> {
  const candidates: Candidate[] = [
    { key: "control", label: "empty module", mainModule: "empty.js", modules: { "empty.js": "export default {};\n" }, bindings: varsOnly({}) },
    { key: "bareHono", label: bareHono.label, mainModule: bareHono.mainModule, modules: bareHono.modules, bindings: varsOnly({}) },
    { key: "ours", label: ours.label, mainModule: ours.mainModule, modules: ours.modules, bindings },
  ];
  const copies = rounds + WARM_ROUNDS;
  const mf = new Miniflare(startupOptions(candidates, copies, compatDate));
  const samples: Record<Candidate["key"], number[]> = { control: [], bareHono: [], ours: [] };
  try {
    await mf.ready;
    for (let i = 0; i < copies; i++) {
      for (const c of candidates) {
        const url = await mf.unsafeGetDirectURL(`${c.key}-${i}`);
        const first = await timedGet(url, c.label);
        let warm = Number.POSITIVE_INFINITY;
        for (let k = 0; k < WARM_REQUESTS; k++) warm = Math.min(warm, await timedGet(url, c.label));
        if (i >= WARM_ROUNDS) samples[c.key].push(Math.round((first - warm) * 1000) / 1000);
      }
    }
  } finally {
    await mf.dispose();
  }
  const control = median(samples.control);
  const result = (c: Candidate): StartupSample => ({
    label: c.label,
    samples: samples[c.key],
    ms: c.key === "control" ? control : Math.max(0, median(samples[c.key]) - control),
  });
  const [controlC, honoC, oursC] = candidates as [Candidate, Candidate, Candidate];
  return {
    method: `wall clock: first request (dynamic import of the minified deploy build) minus the fastest of `
      + `${WARM_REQUESTS} warm requests, median of ${rounds} fresh isolates each, minus the same for an empty module`,
    rounds,
    control: result(controlC),
    bareHono: result(honoC),
    ours: result(oursC),
  };
}
