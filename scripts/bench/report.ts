/**
 * What the bench prints: the load table, the targets (ratios within this invocation, bundle size,
 * startup), the bundle and startup details, and profile tops. Targets are reported, never
 * asserted: a missed target prints MISS-TARGET and does not change the exit status.
 */
import { formatTable } from "../lib/table.ts";
import type { DeployBuild } from "./build.ts";
import { fmt } from "./common.ts";
import type { Measured } from "./load.ts";
import type { ProfileSummary } from "./profile.ts";
import type { StartupResult } from "./startup.ts";

const KIB = 1024;
/** The issue's bundle target: minified size (KiB, as wrangler reports sizes). */
export const MINIFIED_TARGET_KIB = 120;

const kib = (n: number) => fmt(n / KIB, 1);

/** The load results, grouped by connection count, in run order. */
export function loadTable(rows: Measured[]): string {
  return formatTable(
    [
      { header: "target" },
      ...["conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "requests", "errors/non-2xx"].map((header) => ({ header, align: "right" as const })),
    ],
    rows.map((m) => [m.target, String(m.connections), fmt(m.rps, 0), fmt(m.p50), fmt(m.p90), fmt(m.p99), String(m.requests), `${m.errors}/${m.non2xx}`]),
    { indent: "", rule: true },
  );
}

/** One reported figure, with a target or informational. */
export interface Ratio {
  name: string;
  /** The connection count both sides ran at (load ratios only). */
  connections?: number;
  value: number;
  unit?: string;
  /** The two sides, for the reader ("1794 vs 4289 req/s"). */
  detail?: string;
  target?: { op: ">=" | "<="; value: number };
  pass?: boolean;
  /** Decimals printed for the value and the target (default 1 with a unit, else 3). */
  digits?: number;
}

export function ratio(name: string, value: number, target?: Ratio["target"], extra: Partial<Ratio> = {}): Ratio {
  if (!target || !Number.isFinite(value)) return { name, value, ...(target ? { target } : {}), ...extra };
  const pass = target.op === ">=" ? value >= target.value : value <= target.value;
  return { name, value, target, pass, ...extra };
}

const rps = (a: Measured, b: Measured) => ({ detail: `${fmt(a.rps, 0)} vs ${fmt(b.rps, 0)} req/s` });
const p50 = (a: Measured, b: Measured) => ({ detail: `${fmt(a.p50)} vs ${fmt(b.p50)} ms` });

/** The load ratios at every connection count both sides of a ratio ran at. */
export function loadRatios(results: Measured[], connections: number[]): Ratio[] {
  const out: Ratio[] = [];
  for (const c of connections) {
    const by = (t: string) => results.find((m) => m.target === t && m.connections === c);
    const [hit, bare, miss, proxy, put, direct] = ["hit", "bare", "miss", "proxy", "proxy-put", "direct"].map(by);
    const at = { connections: c };
    if (hit && bare) out.push(ratio("HIT/bare throughput", hit.rps / bare.rps, { op: ">=", value: 0.9 }, { ...at, ...rps(hit, bare) }));
    if (miss && proxy) out.push(ratio("MISS/bare-proxy p50 latency", miss.p50 / proxy.p50, { op: "<=", value: 1.2 }, { ...at, ...p50(miss, proxy) }));
    if (miss && put) {
      out.push(ratio("MISS/proxy+put p50 latency", miss.p50 / put.p50, undefined, { ...at, ...p50(miss, put) }));
      out.push(ratio("MISS/proxy+put throughput", miss.rps / put.rps, undefined, { ...at, ...rps(miss, put) }));
    }
    if (put && proxy) out.push(ratio("proxy+put/bare-proxy p50 (simulator put)", put.p50 / proxy.p50, undefined, { ...at, ...p50(put, proxy) }));
    if (miss && direct) {
      out.push(ratio("MISS/direct p50 latency", miss.p50 / direct.p50, { op: "<=", value: 1.1 }, { ...at, ...p50(miss, direct) }));
      out.push(ratio("MISS/direct throughput", miss.rps / direct.rps, undefined, { ...at, ...rps(miss, direct) }));
    }
  }
  return out;
}

/** Bundle size and startup as targets. */
export function staticRatios(ours?: DeployBuild, hono?: DeployBuild, startup?: StartupResult): Ratio[] {
  const out: Ratio[] = [];
  if (ours) out.push(ratio("bundle minified size", ours.size.minifiedBytes / KIB, { op: "<=", value: MINIFIED_TARGET_KIB }, { unit: "KiB" }));
  if (ours && hono) {
    out.push(ratio("bundle minified, ours/bare Hono", ours.size.minifiedBytes / hono.size.minifiedBytes, undefined,
      { detail: `${kib(ours.size.minifiedBytes)} vs ${kib(hono.size.minifiedBytes)} KiB` }));
  }
  if (startup) {
    out.push(ratio("startup, ours/bare Hono", startup.ours.ms / startup.bareHono.ms, { op: "<=", value: 1.5 },
      { detail: `${fmt(startup.ours.ms)} vs ${fmt(startup.bareHono.ms)} ms` }));
  }
  return out;
}

export function ratioLine(r: Ratio): string {
  const conns = r.connections === undefined ? "" : `@${r.connections}`;
  const digits = r.digits ?? (r.unit ? 1 : 3);
  const value = `${fmt(r.value, digits)}${r.unit ? ` ${r.unit}` : ""}`;
  const head = `${r.name.padEnd(42)} ${conns.padStart(4)} ${value.padStart(10)}`;
  const detail = r.detail ? `   (${r.detail})` : "";
  if (!r.target) return `${head}   ${detail ? "informational".padEnd(32) : "informational"}${detail}`;
  const verdict = r.pass === undefined ? "-" : r.pass ? "PASS" : "MISS-TARGET";
  const target = `target ${r.target.op} ${r.digits === undefined ? r.target.value : fmt(r.target.value, r.digits)}${r.unit ? ` ${r.unit}` : ""}`;
  return `${head}   ${target.padEnd(19)} ${detail ? verdict.padEnd(12) : verdict}${detail}`;
}

/** Raw, minified and gzip sizes of our build and the bare Hono one, and what fills ours. */
export function bundleReport(builds: DeployBuild[]): string {
  const table = formatTable(
    [{ header: "bundle (wrangler deploy --dry-run)" }, ...["raw KiB", "minified KiB", "gzip KiB"].map((header) => ({ header, align: "right" as const }))],
    builds.map((b) => [b.label, kib(b.size.rawBytes), kib(b.size.minifiedBytes), kib(b.size.gzipBytes)]),
    { indent: "", rule: true },
  );
  const lines = [table];
  for (const b of builds.slice(0, 1)) {
    lines.push(`  largest in ${b.label}'s minified bundle: ${b.size.largest.map((l) => `${l.input} ${kib(l.bytes)} KiB`).join(", ")}`);
  }
  lines.push("  raw: as wrangler.toml deploys today (no `minify`); gzip: of the minified bundle");
  return lines.join("\n");
}

/** Startup medians and spreads. */
export function startupReport(s: StartupResult): string {
  const row = (x: StartupResult["ours"], note = "") => [
    x.label + note, fmt(x.ms, 2), `${fmt(Math.min(...x.samples), 2)}..${fmt(Math.max(...x.samples), 2)}`,
  ];
  const table = formatTable(
    [{ header: "startup (module evaluation, fresh isolate)" }, { header: "ms", align: "right" }, { header: "first-warm range ms", align: "right" }],
    [row(s.ours), row(s.bareHono), row(s.control, " (control, subtracted)")],
    { indent: "", rule: true },
  );
  return `${table}\n  method: ${s.method}`;
}

/** One profile's top functions by self time. */
export function profileReport(title: string, p: ProfileSummary): string {
  const head = `${title}: busy ${fmt(p.busyMs / 1000, 2)} s of a ${fmt(p.windowMs / 1000, 2)} s window, `
    + `${p.samples.toLocaleString("en-US")} samples every ${fmt(p.intervalMs, 3)} ms`;
  const table = formatTable(
    [{ header: "self ms", align: "right" }, { header: "%", align: "right" }, { header: "function" }, { header: "location" }],
    p.entries.map((e) => [fmt(e.selfMs, e.selfMs < 10 ? 1 : 0), fmt(e.percent, 1), e.functionName, e.location]),
  );
  const bySource = `  by source: ${p.bySource.map((x) => `${x.source} ${fmt(x.percent, 0)}%`).join(", ")}`;
  return `${head}\n${table}\n${bySource}`;
}
