/**
 * CPU profiles of a worker under load, through workerd's inspector (Miniflare's `inspectorPort`):
 * list the targets at http://<host>/json, connect to the worker's one with Node's global WebSocket,
 * Profiler.enable / setSamplingInterval / start, drive load, Profiler.stop. The summary ranks
 * functions by self time, with bundle positions mapped back to src/ through the source map.
 */
import { BenchError, median } from "./common.ts";
import type { SourceResolver } from "./sourcemap.ts";

/** The V8 CPU profile format (.cpuprofile), as far as the summary reads it. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

interface InspectorTarget {
  id: string;
  webSocketDebuggerUrl: string;
}

/** The inspector's targets (one per workerd worker: "core:user:<name>", Miniflare's own, the cache). */
export async function listTargets(inspector: URL): Promise<InspectorTarget[]> {
  const res = await fetch(`http://${inspector.host}/json`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new BenchError(`inspector ${inspector.host}/json: ${res.status}`);
  return (await res.json()) as InspectorTarget[];
}

/** One DevTools-protocol connection: `send` resolves with the command's result or rejects with its error. */
export interface InspectorSession {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

/** Connect to one inspector target. */
export async function connect(target: InspectorTarget): Promise<InspectorSession> {
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  const pending = new Map<number, { ok: (r: Record<string, unknown>) => void; fail: (e: Error) => void }>();
  let nextId = 0;
  await new Promise<void>((open, fail) => {
    ws.addEventListener("open", () => open(), { once: true });
    ws.addEventListener("error", () => fail(new BenchError(`inspector ${target.id}: connection failed`)), { once: true });
  });
  ws.addEventListener("message", (event: MessageEvent) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!waiter || msg.id === undefined) return;
    pending.delete(msg.id);
    if (msg.error) waiter.fail(new BenchError(`inspector ${target.id}: ${msg.error.message}`));
    else waiter.ok(msg.result ?? {});
  });
  ws.addEventListener("close", () => {
    for (const w of pending.values()) w.fail(new BenchError(`inspector ${target.id}: connection closed`));
    pending.clear();
  });
  return {
    send: (method, params) => new Promise((ok, fail) => {
      const id = ++nextId;
      pending.set(id, { ok, fail });
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}

/** Start sampling (interval in µs) on every session. */
export async function startProfiling(sessions: InspectorSession[], intervalUs: number): Promise<void> {
  for (const s of sessions) {
    await s.send("Profiler.enable");
    await s.send("Profiler.setSamplingInterval", { interval: intervalUs });
  }
  await Promise.all(sessions.map((s) => s.send("Profiler.start")));
}

/** Stop sampling and return each session's profile. */
export async function stopProfiling(sessions: InspectorSession[]): Promise<CpuProfile[]> {
  const results = await Promise.all(sessions.map((s) => s.send("Profiler.stop")));
  return results.map((r) => {
    const profile = r.profile as CpuProfile | undefined;
    if (!profile) throw new BenchError("Profiler.stop returned no profile");
    return profile;
  });
}

export interface ProfileEntry {
  functionName: string;
  location: string;
  selfMs: number;
  /** Share of busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  samples: number;
  /** Median time between samples, ms. */
  intervalMs: number;
  /** Profile window, ms. */
  windowMs: number;
  /** Non-idle samples x interval, ms. */
  busyMs: number;
  entries: ProfileEntry[];
  /** Self time by where the code lives: npm package, src/ file, "(native)" or a V8 bucket like "(program)". */
  bySource: { source: string; selfMs: number; percent: number }[];
}

/** The package (node_modules/<pkg>) or file a location belongs to. */
function sourceOf(e: { functionName: string; location: string }): string {
  if (!e.location) return e.functionName;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(e.location)?.[1];
  return pkg ?? e.location.replace(/:\d+$/, "");
}

type CallFrame = CpuProfile["nodes"][number]["callFrame"];

const inBundle = (cf: CallFrame, bundleUrl: string | undefined) => !!bundleUrl && !!cf.url && cf.url.endsWith(bundleUrl);

/** "file:line" for a frame: through the source map for the bundle's own frames. */
function locate(cf: CallFrame, bundleUrl: string | undefined, resolve: SourceResolver | undefined): string {
  if (!cf.url) return "(native)";
  if (resolve && inBundle(cf, bundleUrl) && cf.lineNumber >= 0) {
    const original = resolve(cf.lineNumber, Math.max(0, cf.columnNumber));
    if (original) return original;
  }
  return `${cf.url}:${cf.lineNumber + 1}`;
}

/**
 * [function, location] for a sampled frame. The bundle's module top level (one function holding
 * every module's top-level statements: esbuild concatenates them) has no position; it is named so.
 */
function describe(cf: CallFrame, bundleUrl?: string, resolve?: SourceResolver): [string, string] {
  if (cf.functionName.startsWith("(")) return [cf.functionName, ""];
  if (cf.functionName === "" && cf.lineNumber < 0 && cf.url) return ["(module top level)", cf.url];
  return [cf.functionName || "(anonymous)", locate(cf, bundleUrl, resolve)];
}

/**
 * Self time per function (name + location), largest first. Self time is samples x the median
 * interval: the sampler folds idle gaps into the next sample's delta, so deltas are not summed.
 */
export function summarize(profile: CpuProfile, limit: number, bundleUrl?: string, resolve?: SourceResolver): ProfileSummary {
  const samples = profile.samples ?? [];
  const intervalMs = median(profile.timeDeltas ?? []) / 1000;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const id of samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const byFunction = new Map<string, { functionName: string; location: string; n: number }>();
  let busy = 0;
  for (const [id, count] of counts) {
    const node = nodes.get(id);
    if (!node || node.callFrame.functionName === "(idle)") continue;
    busy += count;
    const [functionName, location] = describe(node.callFrame, bundleUrl, resolve);
    const key = `${functionName}\u0000${location}`;
    const entry = byFunction.get(key) ?? { functionName, location, n: 0 };
    entry.n += count;
    byFunction.set(key, entry);
  }
  const share = (n: number) => ({ selfMs: n * intervalMs, percent: busy ? (100 * n) / busy : 0 });
  const all = [...byFunction.values()].sort((a, b) => b.n - a.n);
  const entries = all.slice(0, limit).map((e) => ({ functionName: e.functionName, location: e.location, ...share(e.n) }));
  const sources = new Map<string, number>();
  for (const e of all) sources.set(sourceOf(e), (sources.get(sourceOf(e)) ?? 0) + e.n);
  const bySource = [...sources].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([source, n]) => ({ source, ...share(n) }));
  return { samples: samples.length, intervalMs, windowMs: (profile.endTime - profile.startTime) / 1000, busyMs: busy * intervalMs, entries, bySource };
}
