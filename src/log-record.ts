/**
 * The worker's per-request log record. Dependency-free (no Workers types) so Node code, such as
 * scripts/lib/records.ts, can import it; src/log.ts re-exports it.
 */

/** One request, as logged (one JSON line) and written to Analytics Engine. Field names are stable: scripts/stats reads them. */
export interface RequestRecord {
  event: "request";
  ts: string;
  method: string;
  host: string;
  path: string;
  status: number;
  /** This worker's X-Cache: HIT | MISS | BYPASS (with the shield, the last member of "HIT, MISS"). */
  cache: string;
  /** Cache-Status detail (rule name, bypass reason, purged, stale-if-error, ...). */
  detail: string;
  rule: string;
  /** 12 hex chars of a hash of the cache key: groups requests per entry without logging URLs' queries. */
  key: string;
  /** Time spent waiting for the origin, or for the shield on a miss (ms; 0 when neither was asked). */
  originMs: number;
  /** Whether the origin was asked for this request (by this worker, or by the shield on its behalf). */
  originAsked: boolean;
  /** The shield's answer on a miss: hit, miss, revalidated, coalesced, stale, pass, failed; "unavailable" or "skipped" when it was bypassed; "" when not asked. */
  shield: string;
  totalMs: number;
  /** Response body size when known before sending (Content-Length), else -1 (streamed without one). */
  bytes: number;
  colo: string;
}
