/**
 * What the bench prints about ESI (esi.ts): each assembled page against the plain HIT of the same
 * template bytes on the same worker (throughput and p50 ratios, the p50 added per page and per
 * further fragment), the personal page with the origin's own latency beside it, and the setup.
 * Informational: the issue sets no ESI target; the checks in esi.ts are what can fail a run.
 */
import { formatTable } from "../lib/table.ts";
import { fmt } from "./common.ts";
import { ESI_RUNS, type EsiMeasured, type EsiRun, type EsiSetup, esiSetup } from "./esi.ts";
import type { Measured } from "./load.ts";
import { type Ratio, ratio } from "./report.ts";

/** One run's figures in the JSON summary, with its ratios to esi-plain at the same connection count. */
export interface EsiRunSummary {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** rps / plain rps and p50 / plain p50 (worker runs only). */
  rpsRatio?: number;
  p50Ratio?: number;
  /** p50 minus plain's p50, ms (worker runs only). */
  addedP50Ms?: number;
}

export interface EsiSummary {
  connections: number;
  runs: Partial<Record<EsiRun, EsiRunSummary>>;
  /** esi-1 p50 - esi-plain p50: what assembling a page with one cached fragment adds. */
  addedP50PerPageMs: number;
  /** (esi-4 p50 - esi-1 p50) / 3: what each further cached fragment adds. */
  addedP50PerFragmentMs: number;
  /** esi-personal p50 - esi-1 p50: the personal fragment (one origin round trip), next to esi-origin's p50. */
  personalAddedP50Ms: number;
  originP50Ms: number;
  /** Origin requests per esi-personal page (1: the personal fragment, nothing else). */
  personalOriginRequestsPerPage: number;
}

/** The --json object's `esi`. */
export interface EsiFindings {
  setup: EsiSetup;
  summary: EsiSummary[];
}

const isEsi = (m: Measured): m is EsiMeasured => (ESI_RUNS as readonly string[]).includes(m.target);

function summarize(results: Measured[], c: number): EsiSummary | undefined {
  const by = (t: EsiRun) => results.find((m) => m.target === t && m.connections === c) as EsiMeasured | undefined;
  const plain = by("esi-plain");
  const runs: EsiSummary["runs"] = {};
  for (const t of ESI_RUNS) {
    const m = by(t);
    if (!m) continue;
    const worker = t !== "esi-origin" && plain;
    runs[t] = {
      rps: m.rps, p50: m.p50, p99: m.p99, requests: m.requests,
      ...(worker ? { rpsRatio: m.rps / plain.rps, p50Ratio: m.p50 / plain.p50, addedP50Ms: m.p50 - plain.p50 } : {}),
    };
  }
  if (!Object.keys(runs).length) return undefined;
  const p50 = (t: EsiRun) => by(t)?.p50 ?? Number.NaN;
  return {
    connections: c,
    runs,
    addedP50PerPageMs: p50("esi-1") - p50("esi-plain"),
    addedP50PerFragmentMs: (p50("esi-4") - p50("esi-1")) / 3,
    personalAddedP50Ms: p50("esi-personal") - p50("esi-1"),
    originP50Ms: p50("esi-origin"),
    personalOriginRequestsPerPage: by("esi-personal")?.esi?.personalPerPage ?? Number.NaN,
  };
}

/** The JSON's `esi` (undefined when no ESI run was made). */
export function esiFindings(results: Measured[], connections: number[]): EsiFindings | undefined {
  const summary = connections.map((c) => summarize(results, c)).filter((s): s is EsiSummary => !!s);
  return summary.length ? { setup: esiSetup(), summary } : undefined;
}

const LABELS: Record<EsiRun, string> = {
  "esi-plain": "esi-plain (same bytes, not assembled)",
  "esi-1": "esi-1 (1 cached fragment)",
  "esi-4": "esi-4 (4 cached fragments)",
  "esi-personal": "esi-personal (+1 personal, origin)",
  "esi-origin": "esi-origin (the origin alone)",
};

/** The ESI table (each run against esi-plain at its connection count) and the setup. */
export function esiReport(results: Measured[], connections: number[]): string {
  const found = esiFindings(results, connections);
  if (!found) return "";
  const rows = found.summary.flatMap((s) => ESI_RUNS.filter((t) => s.runs[t]).map((t) => {
    const r = s.runs[t]!;
    return [LABELS[t], String(s.connections), fmt(r.rps, 0), fmt(r.p50), fmt(r.p99),
      r.rpsRatio === undefined ? "" : fmt(r.rpsRatio, 3), r.p50Ratio === undefined ? "" : fmt(r.p50Ratio, 3),
      r.addedP50Ms === undefined ? "" : fmt(r.addedP50Ms)];
  }));
  const table = formatTable(
    [{ header: "ESI: assembled page vs plain HIT" },
      ...["conns", "req/s", "p50 ms", "p99 ms", "req/s vs plain", "p50 vs plain", "p50 added ms"].map((header) => ({ header, align: "right" as const }))],
    rows,
    { indent: "", rule: true },
  );
  const { setup } = found;
  const page = (run: string) => setup.pages.find((p) => p.run === run);
  const kib = (n: number | undefined) => (n === undefined ? "-" : fmt(n / 1024, 1));
  const fragments = setup.fragments.map((f) => `${f.bytes} B`).join(", ");
  const perPage = found.summary.map((s) => `@${s.connections}: ${fmt(s.personalOriginRequestsPerPage, 3)}`).join(", ");
  const origin = found.summary.map((s) => `@${s.connections}: it adds ${fmt(s.personalAddedP50Ms)} ms p50 over esi-1; `
    + `the origin alone answers it in ${fmt(s.originP50Ms)} ms p50 (esi-origin)`).join(";\n  ");
  return [
    table,
    "  One worker with ESI on, one isolate; every page a template HIT (X-Cache checked), asked without Accept-Encoding as autocannon",
    `  asks (workerd compresses nothing). EDGE_CONFIG: ${JSON.stringify(setup.config)}`,
    `  Templates: a generated article page, ${kib(page("esi-1")?.templateBytes)} KiB (esi-4: ${kib(page("esi-4")?.templateBytes)} KiB), `
      + `assembled ${kib(page("esi-1")?.assembledBytes)} / ${kib(page("esi-4")?.assembledBytes)} KiB; esi-plain: the esi-1 template's exact bytes`,
    "  without Surrogate-Control (served as stored, with Content-Length). p50 added: minus esi-plain's p50 at the same connection count.",
    `  Public fragments: ${fragments}, cache-control: max-age=600, each a subrequest through the pipeline (a HIT).`,
    `  esi-personal: Cookie: ${setup.cookie}; its personal fragment (${setup.personalFragment.path}, a bypass rule) goes to the`,
    `  test origin for every page (origin requests per page ${perPage}). ${origin}.`,
    "  The test origin is a Node process on loopback: a production origin's round trip (often tens of ms) would take the place of its",
    "  latency in esi-personal.",
  ].join("\n");
}

/** Ratios and added milliseconds, per connection count (informational). */
export function esiRatios(results: Measured[], connections: number[]): Ratio[] {
  const out: Ratio[] = [];
  for (const c of connections) {
    const by = (t: EsiRun) => results.find((m): m is EsiMeasured => m.target === t && m.connections === c && isEsi(m));
    const plain = by("esi-plain");
    if (!plain) continue;
    const at = { connections: c };
    for (const t of ["esi-1", "esi-4", "esi-personal"] as const) {
      const m = by(t);
      if (!m) continue;
      out.push(ratio(`ESI ${t}/plain throughput`, m.rps / plain.rps, undefined, { ...at, detail: `${fmt(m.rps, 0)} vs ${fmt(plain.rps, 0)} req/s` }));
      out.push(ratio(`ESI ${t}/plain p50 latency`, m.p50 / plain.p50, undefined, { ...at, detail: `${fmt(m.p50)} vs ${fmt(plain.p50)} ms; p99 ${fmt(m.p99)} vs ${fmt(plain.p99)} ms` }));
    }
    const one = by("esi-1");
    const four = by("esi-4");
    const personal = by("esi-personal");
    const origin = by("esi-origin");
    if (one) {
      out.push(ratio("ESI added p50 per page (esi-1 - plain)", one.p50 - plain.p50, undefined, {
        ...at, unit: "ms", digits: 2, detail: `${fmt(one.p50)} - ${fmt(plain.p50)} ms; 1/throughput: +${fmt(1000 / one.rps - 1000 / plain.rps, 3)} ms per page`,
      }));
    }
    if (one && four) {
      out.push(ratio("ESI added p50 per further fragment", (four.p50 - one.p50) / 3, undefined, {
        ...at, unit: "ms", digits: 2, detail: `(esi-4 - esi-1) / 3 = (${fmt(four.p50)} - ${fmt(one.p50)}) / 3 ms`,
      }));
    }
    if (one && personal) {
      out.push(ratio("ESI personal fragment p50 (vs esi-1)", personal.p50 - one.p50, undefined, {
        ...at, unit: "ms", digits: 2, detail: `one origin round trip per page; the test origin alone: p50 ${origin ? fmt(origin.p50) : "-"} ms`,
      }));
    }
    const perPage = personal?.esi?.personalPerPage;
    if (personal && perPage !== undefined) {
      out.push(ratio("ESI origin requests per personal page", perPage, undefined, {
        ...at, digits: 3, detail: `${personal.esi?.personalOriginRequests} for ${personal.requests} pages; template and public fragments: 0`,
      }));
    }
  }
  return out;
}
