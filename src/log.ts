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

/** Write the record to the log stream (wrangler tail) and, when bound, Analytics Engine. */
export function logRequest(record: RequestRecord, dataset: AnalyticsEngineDataset | undefined, toConsole: boolean): void {
  if (toConsole) console.log(JSON.stringify(record));
  if (!dataset) return;
  try {
    dataset.writeDataPoint({
      indexes: [record.rule],
      blobs: [record.cache, record.rule, record.colo, String(record.status), record.host, record.detail, record.key],
      doubles: [record.status, record.totalMs, record.originMs, record.bytes],
    });
  } catch (e) {
    logFault("analytics", e);
  }
}
