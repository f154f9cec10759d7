/**
 * Reading the worker's per-request log lines (`RequestRecord`, src/log-record.ts) out of whatever an
 * operator saved:
 *   - raw JSON lines, as the worker prints them (`wrangler dev` prefixes them with "[edge-cache] ");
 *   - `wrangler tail --format json` objects, whose `logs[].message[]` hold those JSON strings;
 *     wrangler prints each object indented over many lines, so objects are reassembled across
 *     lines (one-line objects, e.g. from `jq -c`, work too);
 * and anything else (wrangler's own lines, fault and purge events, partial objects) is counted and
 * skipped.
 */
import type { RequestRecord } from "../../src/log-record.ts";

export type { RequestRecord };

/** A record with its timestamp parsed. */
export interface Entry extends RequestRecord {
  time: number;
}

export interface ReadCounts {
  /** Records read from raw lines. */
  raw: number;
  /** Records read from inside wrangler tail objects. */
  tail: number;
  /** Non-empty lines that were not JSON (wrangler's own output, stack traces, ...). */
  otherLines: number;
  /** JSON values that are not request records (fault, purge and info events, tail objects without one). */
  otherJson: number;
  /** Objects that never closed or did not parse. */
  broken: number;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
/** Optional "[worker-name] " prefix (wrangler dev with several workers), then the object. */
const START = /^\s*(?:\[[^\]\s]{1,100}\]\s*)?(?=[{])/;
/** The same, at column 0 only. */
const RESYNC = /^(?:\[[^\]\s]{1,100}\]\s*)?(?=[{])/;
const MAX_OBJECT_CHARS = 8 * 1024 * 1024;

const str = (v: unknown, d = ""): string => (typeof v === "string" ? v : d);
const num = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);

/** A value that is a request record, normalised; undefined otherwise. */
export function toEntry(v: unknown): Entry | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (o.event !== "request" || typeof o.ts !== "string" || typeof o.cache !== "string" || typeof o.totalMs !== "number") return undefined;
  const time = Date.parse(o.ts);
  if (!Number.isFinite(time)) return undefined;
  return {
    event: "request",
    ts: o.ts,
    time,
    method: str(o.method, "GET"),
    host: str(o.host),
    path: str(o.path),
    status: num(o.status, 0),
    cache: o.cache.toUpperCase(),
    detail: str(o.detail),
    rule: str(o.rule, "-") || "-",
    key: str(o.key),
    originMs: num(o.originMs, 0),
    // Records written before these fields: the origin was asked when time was spent waiting for it.
    originAsked: typeof o.originAsked === "boolean" ? o.originAsked : num(o.originMs, 0) > 0,
    shield: str(o.shield),
    totalMs: num(o.totalMs, 0),
    bytes: num(o.bytes, -1),
    colo: str(o.colo),
  };
}

/** Feed lines in order; collect `entries`; call end() after the last line. */
export class RecordReader {
  readonly entries: Entry[] = [];
  readonly counts: ReadCounts = { raw: 0, tail: 0, otherLines: 0, otherJson: 0, broken: 0 };
  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;

  line(rawLine: string): void {
    const text = rawLine.replace(ANSI, "");
    if (this.buf) {
      // A complete one-line object at column 0 cannot be inside an indented (pretty-printed) one:
      // the object being assembled was cut off. Drop it and take this line.
      const top = RESYNC.exec(text);
      if (top && this.tryWhole(text.slice(top[0].length))) {
        this.counts.broken++;
        this.reset();
        return;
      }
      this.scan(`\n${text}`);
      return;
    }
    const m = START.exec(text);
    if (!m) {
      if (text.trim() !== "") this.counts.otherLines++;
      return;
    }
    this.scan(text.slice(m[0].length));
  }

  end(): void {
    if (this.buf) this.counts.broken++;
    this.reset();
  }

  /** Parse `text` alone as one object; take it if it parses. */
  private tryWhole(text: string): boolean {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return false;
    }
    this.take(v);
    return true;
  }

  private scan(chunk: string): void {
    const startLen = this.buf.length;
    this.buf += chunk;
    for (let i = startLen; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === "\"") this.inString = false;
      } else if (c === "\"") this.inString = true;
      else if (c === "{" || c === "[") this.depth++;
      else if (c === "}" || c === "]") {
        this.depth--;
        if (this.depth === 0) {
          const json = this.buf.slice(0, i + 1);
          this.reset();
          let v: unknown;
          try {
            v = JSON.parse(json);
          } catch {
            this.counts.broken++;
            return;
          }
          this.take(v);
          return; // whatever follows the object on this line is ignored
        }
      }
    }
    if (this.buf.length > MAX_OBJECT_CHARS) {
      this.counts.broken++;
      this.reset();
    }
  }

  private reset(): void {
    this.buf = "";
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  private take(v: unknown): void {
    const direct = toEntry(v);
    if (direct) {
      this.entries.push(direct);
      this.counts.raw++;
      return;
    }
    const logs = (v as { logs?: unknown } | null)?.logs;
    let found = 0;
    if (Array.isArray(logs)) {
      for (const log of logs) {
        const message = (log as { message?: unknown } | null)?.message;
        for (const part of Array.isArray(message) ? message : [message]) {
          let candidate: unknown = part;
          if (typeof part === "string") {
            const m = START.exec(part);
            if (!m) continue;
            try {
              candidate = JSON.parse(part.slice(m[0].length));
            } catch {
              continue;
            }
          }
          const e = toEntry(candidate);
          if (e) {
            this.entries.push(e);
            found++;
          }
        }
      }
    }
    if (found) this.counts.tail += found;
    else this.counts.otherJson++;
  }
}
