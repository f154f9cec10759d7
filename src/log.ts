/**
 * Structured logging: one JSON object per line, readable in `wrangler tail` and by scripts/stats.
 * Secrets never pass through here: callers log keys, names and reasons, not header values.
 */
import type { RequestRecord } from "./log-record.ts";

/** Log an unexpected fault (Cache API, KV, origin) once, with where it happened. */
export function logFault(where: string, error: unknown, fields: Record<string, unknown> = {}): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(JSON.stringify({ level: "error", event: "fault", where, message, ...fields }));
}

/** Log a notable, expected event (dropped tags, purges) as one JSON line. */
export function logEvent(level: "info" | "warn", event: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "warn") console.warn(line);
  else console.log(line);
}

export type { RequestRecord } from "./log-record.ts";

/**
 * 12 hex characters identifying a cache key in logs (groups requests per entry without logging
 * URLs' queries). FNV-1a over two 32-bit lanes: synchronous and cheap, unlike a digest per request.
 */
export function keyHash(key: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c ^ (a >>> 13), 0x5bd1e995);
  }
  return ((a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")).slice(0, 12);
}

/** Write the record to the log stream (wrangler tail) and, when bound, Analytics Engine. */
export function logRequest(record: RequestRecord, dataset: AnalyticsEngineDataset | undefined, toConsole: boolean): void {
  if (toConsole) console.log(JSON.stringify(record));
  if (!dataset) return;
  try {
    dataset.writeDataPoint({
      indexes: [record.rule],
      blobs: [record.cache, record.rule, record.colo, String(record.status), record.host, record.detail, record.key, record.shield],
      doubles: [record.status, record.totalMs, record.originMs, record.bytes],
    });
  } catch (e) {
    logFault("analytics", e);
  }
}
