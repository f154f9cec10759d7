/**
 * What the bench prints about the origin shield (shield.ts): origin requests per key with the
 * shield off and on, the latency of a location's miss and hit with and without it, the Durable
 * Object, storage and R2 operations per location request, and how fast a stale copy answers when
 * the origin hangs; and the figures as targets. Reported, never asserted.
 */
import { formatTable } from "../lib/table.ts";
import { fmt } from "./common.ts";
import { type Ratio, ratio } from "./report.ts";
import type { OpsRow, Series, ShieldFindings, StaleResult } from "./shield.ts";

/** A stale copy must answer within this long (p95; the integration test's bound for the same case). */
export const STALE_P95_TARGET_MS = 1500;

function originTable(s: ShieldFindings): string {
  const { off, on } = s.originLoad;
  const row = (label: string, m: typeof off) => [
    label, String(s.setup.keys), String(m.requestsPerKey), String(m.isolates), fmt(m.mean), String(m.min), String(m.max), fmt(m.doRequestsPerKey), fmt(m.roundMs.p50, 0),
  ];
  const xCache = (m: typeof off) => Object.entries(m.xCache).sort((a, b) => b[1] - a[1]).map(([k, n]) => `"${k}" x${n}`).join(", ");
  return [
    formatTable(
      [{ header: "shield: origin requests per key" }, ...["keys", "requests/key", "isolates", "mean", "min", "max", "DO requests/key", "round p50 ms"]
        .map((header) => ({ header, align: "right" as const }))],
      [row("shield off", off), row("shield on", on)],
      { indent: "", rule: true },
    ),
    `  ${s.setup.concurrency} concurrent requests per cold key, round-robin over ${s.setup.locations} locations x ${s.setup.isolatesPerLocation} isolates `
      + `(separate workers; the two isolates of a location`,
    `  share its Cache API store); the origin answers after ${s.setup.originDelayMs} ms. round: from the key's first request to its last answer.`,
    "  Origin requests: the test origin's own request log for each key. DO requests: shield fill RPCs the locations made (each isolate",
    "  coalesces its own concurrent requests first, so at most one per isolate per key).",
    `  X-Cache, shield off: ${xCache(off)}; shield on: ${xCache(on)}.`,
  ].join("\n");
}

function latencyTable(s: ShieldFindings): string {
  const l = s.latency;
  const row = (label: string, x: Series) => [label, String(x.n), fmt(x.p50), fmt(x.p95), fmt(x.max), fmt(x.mean)];
  return [
    formatTable(
      [{ header: "shield: latency, one request at a time" }, ...["n", "p50 ms", "p95 ms", "max ms", "mean ms"].map((header) => ({ header, align: "right" as const }))],
      [
        row("cold miss, shield off (location -> origin)", l.missOff),
        row("cold miss through the shield (it fetches)", l.missOn),
        row("miss answered by the shield (warm shield)", l.missShieldHit),
        row("location hit, shield off", l.hitOff),
        row("location hit, shield on", l.hitOn),
      ],
      { indent: "", rule: true },
    ),
    "  The origin answers at once (unscripted paths; its counter checked: one origin request per key). Cold misses alternate off/on;",
    "  hits are on the location's other isolate (its Cache API, not the memory tier of the isolate that filled it); warm-shield misses",
    "  at another location. Locally the shield object runs in the same workerd process as the locations, so what a miss gains here",
    "  is the shield's own work (the RPC, a new object with its SQLite storage for each cold key, storing the copy); in production add",
    "  one round trip from the location to the shield's region (and the origin fetch is then made from there).",
  ].join("\n");
}

const perRequest = (n: number, requests: number) => (requests > 0 ? fmt(n / requests) : "-");

function opsTable(s: ShieldFindings): string {
  const row = (o: OpsRow) => [
    o.row, String(o.requests), perRequest(o.doRequests, o.requests), perRequest(o.storage.get, o.requests), perRequest(o.storage.put, o.requests),
    perRequest(o.storage.delete + o.storage.deleteAll, o.requests), `${perRequest(o.storage.getAlarm, o.requests)}/${perRequest(o.storage.setAlarm, o.requests)}`,
    perRequest(o.r2.put, o.requests), perRequest(o.r2.get, o.requests), perRequest(o.originRequests, o.requests),
  ];
  return [
    formatTable(
      [{ header: "shield: operations per location request" },
        ...["requests", "DO req", "storage get", "put", "delete", "alarm get/set", "R2 put", "R2 get", "origin"].map((header) => ({ header, align: "right" as const }))],
      s.ops.map(row),
      { indent: "", rule: true },
    ),
    "  Counted by the bench's wrapper (shield-counter.ts): DO req = shield fill RPCs made by the locations (one billed Durable Object",
    "  request each); storage and R2 = the shield objects' calls on their Durable Object storage and SHIELD_BUCKET (the writes of a fill",
    `  run in waitUntil, counted after a pause).${s.storageCounted ? "" : " NOTE: the objects' storage could not be wrapped here: storage columns are not counted."}`,
  ].join("\n");
}

function staleTable(s: ShieldFindings): string {
  const row = (x: StaleResult) => [x.variant, String(x.latency.n), String(x.staleAnswers), fmt(x.latency.p50, 0), fmt(x.latency.p95, 0), fmt(x.latency.max, 0)];
  return [
    formatTable(
      [{ header: "shield: stale answer, origin hung" }, ...["keys", "stale", "p50 ms", "p95 ms", "max ms"].map((header) => ({ header, align: "right" as const }))],
      s.stale.map(row),
      { indent: "", rule: true },
    ),
    `  Each key stored with max-age=1 and left to expire; then the origin answers only after ${fmt(s.setup.hangMs / 1000, 0)} s `
      + `(originTimeoutMs ${s.setup.originTimeoutMs});`,
    "  every variant's requests in flight together. stale: answers that were the stale copy (its body, Cache-Status fwd=stale).",
    ...s.stale.flatMap((x) => [`  ${x.variant}: ${x.description}`, `      Cache-Status: ${x.cacheStatus}`]),
  ].join("\n");
}

/** Everything the shield target found, as tables with their notes. */
export function shieldReport(s: ShieldFindings): string {
  return [originTable(s), "", latencyTable(s), "", opsTable(s), "", staleTable(s), ...s.notes.map((n) => `  shield: ${n}`)].join("\n");
}

/** The shield's figures as targets (origin requests per key, no DO request on a hit, stale within a second) and information. */
export function shieldRatios(s: ShieldFindings): Ratio[] {
  const out: Ratio[] = [];
  const { off, on } = s.originLoad;
  const l = s.latency;
  out.push(ratio("shield: origin requests/key, on (max)", on.max, { op: "<=", value: 1 }, {
    digits: 2, detail: `mean ${fmt(on.mean)} for ${on.requestsPerKey} concurrent requests over ${on.isolates} isolates`,
  }));
  out.push(ratio("shield: origin requests/key, off (mean)", off.mean, undefined, { digits: 2, detail: `max ${off.max}; ${off.isolates} isolates` }));
  out.push(ratio("shield: cold miss p50, via shield/direct", l.missOn.p50 / l.missOff.p50, undefined, { detail: `${fmt(l.missOn.p50)} vs ${fmt(l.missOff.p50)} ms` }));
  out.push(ratio("shield: cold miss p50, added by the shield", l.missOn.p50 - l.missOff.p50, undefined, {
    unit: "ms", digits: 2, detail: "in-process shield: its own work; production adds a round trip to its region",
  }));
  out.push(ratio("shield: warm-shield miss p50 / direct miss", l.missShieldHit.p50 / l.missOff.p50, undefined, { detail: `${fmt(l.missShieldHit.p50)} vs ${fmt(l.missOff.p50)} ms` }));
  out.push(ratio("shield: location HIT p50, on/off", l.hitOn.p50 / l.hitOff.p50, undefined, { detail: `${fmt(l.hitOn.p50)} vs ${fmt(l.hitOff.p50)} ms` }));
  const row = (prefix: string) => s.ops.find((o) => o.row.startsWith(prefix));
  const fill = row("location miss, shield fills (cold key)");
  const hit = row("location hit");
  const shieldHit = row("location miss, shield hit");
  if (fill) {
    out.push(ratio("shield: DO requests per location miss", fill.doRequests / fill.requests, { op: "<=", value: 1 }, {
      digits: 2, detail: `${fill.doRequests} fill RPCs for ${fill.requests} cold misses${shieldHit ? `; ${shieldHit.doRequests} for ${shieldHit.requests} warm-shield misses` : ""}`,
    }));
  }
  if (hit) out.push(ratio("shield: DO requests per location hit", hit.doRequests / hit.requests, { op: "<=", value: 0 }, { digits: 2, detail: `${hit.doRequests} for ${hit.requests} hits` }));
  const large = s.ops.find((o) => o.row.startsWith("location miss, shield fills, body"));
  const largeHit = s.ops.find((o) => o.row.startsWith("location miss, shield hit, body"));
  if (large) {
    out.push(ratio("shield: R2 puts per fill, body > 1 MiB", large.r2.put / large.requests, undefined, {
      digits: 2, detail: `${large.r2.put} puts for ${large.requests} fills${largeHit ? `; ${largeHit.r2.get} R2 gets for ${largeHit.requests} shield hits` : ""}; 0 for bodies <= 1 MiB: ${fill?.r2.put ?? "-"}`,
    }));
  }
  for (const x of s.stale.filter((v) => v.staleWaitMs === s.setup.defaultStaleWaitMs)) {
    const c = s.stale.find((v) => v.variant === x.oldBehaviour);
    out.push(ratio(`stale answer p95, ${x.variant}`, x.latency.p95, { op: "<=", value: STALE_P95_TARGET_MS }, {
      unit: "ms", digits: 0, detail: `p50 ${fmt(x.latency.p50, 0)} ms${c ? `; staleWaitMs ${c.staleWaitMs}: p50 ${fmt(c.latency.p50, 0)} ms` : ""}`,
    }));
  }
  return out;
}
