/**
 * Structured logging: one JSON object per line, readable in `wrangler tail` and by scripts/stats.
 * Secrets never pass through here: callers log keys, names and reasons, not header values.
 */

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
