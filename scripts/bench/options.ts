/**
 * The bench's flags. Defaults give the full comparison (every target at 1 and 32 connections,
 * bundle size, startup); flags narrow it down for quicker runs. A bad flag is a BenchError
 * (reported as ERROR, exit 1), as before.
 */
import { parseFlags } from "../lib/cli.ts";
import { BenchError } from "./common.ts";
import { TARGETS, type Target } from "./scenarios.ts";

export const SECTIONS = ["load", "bundle", "startup"] as const;
/** What --profile can profile, and what it profiles unless --targets says otherwise. */
export const PROFILED: readonly Target[] = ["hit", "miss", "esi"];
const PROFILE_DEFAULT: readonly Target[] = ["hit", "miss"];
export type Section = (typeof SECTIONS)[number];

export interface Options {
  duration: number;
  warmup: number;
  /** Connection counts, each run for every target (ascending, deduplicated). */
  connections: number[];
  targets: Target[];
  sections: Section[];
  startupRounds: number;
  /** Profile mode: CPU profiles of the selected of hit, miss and esi (default hit and miss) instead of the comparison. */
  profile: boolean;
  json: boolean;
}

export const USAGE = [
  "usage: npm run bench -- [--duration <s>] [--connections <n,...>] [--targets <list>] [--skip <list>]",
  "                        [--warmup <s>] [--startup-rounds <n>] [--profile] [--json]",
  "  --duration        seconds measured per target and connection count (default 10; --profile: 5)",
  "  --connections     concurrent keep-alive connections, a comma-separated list (default 1,32: both",
  "                    are run for every target; --profile: 32, the largest given is used)",
  `  --targets         which load targets to run (default all: ${TARGETS.join(",")});`,
  "                    shield runs fixed rounds once, after the others, whatever --duration and --connections;",
  "                    esi is five runs of its own (esi-plain, esi-1, esi-4, esi-personal, esi-origin)",
  `  --skip            sections to leave out: ${SECTIONS.join(",")} (bundle: wrangler's deploy build sizes;`,
  "                    startup: module evaluation time, which needs the bundle build), or targets (e.g. shield)",
  "  --warmup          unmeasured seconds before each run (default: 20% of duration, 1..2 s)",
  "  --startup-rounds  fresh isolates per worker for the startup median (default 10)",
  "  --profile         instead of the comparison: CPU profiles of the HIT and MISS paths under load and",
  "                    of startup, written to .prof/{hit,miss,startup}.cpuprofile, top functions printed;",
  "                    with --targets, of the selected of hit, miss and esi (esi: esi-plain, esi-1, esi-4)",
  "  --json            also print the results as one JSON object (last line of output)",
].join("\n");

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new BenchError(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

/** Split a comma list and check every item is one of `allowed`. */
function listOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new BenchError(`--${name}: unknown "${item}" (one of ${allowed.join(", ")})`);
  }
  return allowed.filter((a) => items.includes(a));
}

function connectionList(raw: string): number[] {
  const counts = raw.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new BenchError(`--connections: "${s}" is not a whole number from 1 to 1024`);
    return n;
  });
  if (counts.length === 0) throw new BenchError("--connections: give at least one count");
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** The options, or undefined when --help was printed. */
export function parseOptions(argv: string[]): Options | undefined {
  const args = parseFlags(argv, {
    usage: USAGE,
    options: {
      duration: { type: "string" },
      connections: { type: "string" },
      warmup: { type: "string" },
      targets: { type: "string" },
      skip: { type: "string" },
      "startup-rounds": { type: "string", default: "10" },
      profile: { type: "boolean" },
    },
  });
  if (!args) return undefined;
  const v = args.values;
  const profile = !!v.profile;
  const duration = positive("duration", v.duration ?? (profile ? "5" : "10"));
  const connections = connectionList(v.connections ?? (profile ? "32" : "1,32"));
  const warmup = v.warmup !== undefined ? Number(v.warmup) : Math.min(2, Math.max(1, duration * 0.2));
  if (!Number.isFinite(warmup) || warmup < 0) throw new BenchError(`--warmup must be a number >= 0, got "${v.warmup}"`);
  const startupRounds = Number(v["startup-rounds"]);
  if (!Number.isInteger(startupRounds) || startupRounds < 1 || startupRounds > 50) {
    throw new BenchError(`--startup-rounds must be a whole number from 1 to 50, got "${v["startup-rounds"]}"`);
  }
  const skip = v.skip !== undefined ? listOf<Section | Target>("skip", v.skip, [...SECTIONS, ...TARGETS]) : [];
  const all: Target[] = profile ? [...PROFILE_DEFAULT] : [...TARGETS];
  const targets = (v.targets !== undefined ? listOf("targets", v.targets, TARGETS) : all).filter((t) => !skip.includes(t));
  if (targets.length === 0) throw new BenchError("--targets: give at least one target (or --skip load)");
  if (profile && !targets.some((t) => PROFILED.includes(t))) {
    throw new BenchError(`--profile: profiles ${PROFILED.join(", ")}; --targets selects none of them`);
  }
  return {
    duration, warmup, connections, targets, startupRounds, profile, json: !!v.json,
    sections: SECTIONS.filter((s) => !skip.includes(s)),
  };
}
