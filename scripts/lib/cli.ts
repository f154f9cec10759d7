/**
 * Shared command-line plumbing for the operator scripts (purge, warm, verify, stats): strict flags
 * plus --json and -h/--help, usage errors exit 2 with "error: ...", "Run with --help for usage.".
 * bench parses its flags with parseFlags too, but reports errors its own way (ERROR: ..., exit 1).
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** Bad usage: reported as `error: <message>` and exit status 2, before anything is sent. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure while running (network, unreadable input): `error: <message>`, exit status 1. */
export class RunError extends Error {
  override name = "RunError";
}

/** The flags every script takes, added to its own by parseFlags. */
const COMMON_OPTIONS = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type FlagsConfig<O extends ParseArgsOptionsConfig, P extends boolean> = {
  args: string[];
  options: O & typeof COMMON_OPTIONS;
  strict: true;
  allowPositionals: P;
};

/** What parseFlags returns: node:util parseArgs' result for the script's options plus --json and --help. */
export type Flags<O extends ParseArgsOptionsConfig, P extends boolean = false> = ReturnType<typeof parseArgs<FlagsConfig<O, P>>>;

/**
 * Parse a script's command line strictly: its `options` plus --json and -h/--help; positional
 * arguments only with `positionals: true`. A parse error is a UsageError. With --help, `usage` is
 * printed to stdout and the result is undefined: the script returns 0 without doing anything else.
 */
export function parseFlags<const O extends ParseArgsOptionsConfig, const P extends boolean = false>(
  argv: string[],
  spec: { usage: string; options: O; positionals?: P },
): Flags<O, P> | undefined {
  const config: FlagsConfig<O, P> = {
    args: argv,
    options: { ...spec.options, ...COMMON_OPTIONS },
    strict: true,
    allowPositionals: (spec.positionals ?? false) as P,
  };
  let parsed: Flags<O, P>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${spec.usage}\n`);
    return undefined;
  }
  return parsed;
}

/** A script's --json output: the value, indented, on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The worker's base URL from --endpoint or $EDGE_CACHE_URL, validated (every script that takes
 * --endpoint reads it here).
 * `required: false` returns undefined when neither is set (every URL given is absolute).
 */
export function resolveEndpoint(flag: string | undefined, env: Record<string, string | undefined>, required: true): URL;
export function resolveEndpoint(flag: string | undefined, env: Record<string, string | undefined>, required: boolean): URL | undefined;
export function resolveEndpoint(flag: string | undefined, env: Record<string, string | undefined>, required: boolean): URL | undefined {
  const base = flag ?? env.EDGE_CACHE_URL;
  if (!base) {
    if (!required) return undefined;
    throw new UsageError("set EDGE_CACHE_URL to the worker's base URL (e.g. http://127.0.0.1:8787) or pass --endpoint");
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(`EDGE_CACHE_URL / --endpoint ${JSON.stringify(base)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError("EDGE_CACHE_URL / --endpoint must be an http(s) URL");
  if (url.search || url.hash) throw new UsageError("EDGE_CACHE_URL / --endpoint must not have a query or fragment");
  return url;
}

/** "a, b" and repeated flags to a flat, trimmed list, empty items kept (for callers that reject them). */
export function splitCommas(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim());
}

/** "en,fr" and repeated flags to a flat, trimmed, de-duplicated list without empty items. */
export function splitList(values: string[] | undefined): string[] {
  return [...new Set(splitCommas(values).filter((v) => v !== ""))];
}

/** A positive integer flag, or a UsageError naming it. */
export function positiveInt(name: string, raw: string | undefined, fallback: number, max = 1_000_000): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Milliseconds for tables: "12", "3.4", "1,204". */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 10) return ms.toFixed(1);
  return Math.round(ms).toLocaleString("en-US");
}

/** A ratio as a percentage, "-" when there is nothing to divide. */
export function fmtPct(part: number, whole: number, digits = 1): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(digits)}%` : "-";
}

/** Bytes in binary units: "812 B", "1.2 KiB", "3.40 MiB". */
export function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** Read all of stdin as text (for `--file -` and pipes). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Run a script's main: set its exit status, map UsageError to exit 2 and RunError to exit 1 (with the
 * message only; anything else is a bug and keeps its stack).
 */
export async function run(main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n\nRun with --help for usage.\n`);
      process.exitCode = 2;
    } else if (e instanceof RunError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      throw e;
    }
  }
}
