/**
 * The RFC 9211 Cache-Status member this cache appends (pure), and the X-Cache summary beside it.
 */

/** The name this cache uses in Cache-Status (RFC 9211 §2: "identifies the cache"). */
export const CACHE_NAME = "edge-cache";

/** What the cache in front of the origin (the shield) reported: its Cache-Status member and X-Cache. */
export interface Upstream {
  member: string;
  xCache: "HIT" | "MISS";
}

export interface CacheStatus {
  xCache: "HIT" | "MISS" | "BYPASS";
  /** RFC 9211 §2.1: the response was served from cache. */
  hit?: boolean;
  /** Which of our tiers answered ("memory", "cache-api", "shield"): a vendor-prefixed parameter (RFC 9211 §4). */
  tier?: string | undefined;
  /** RFC 9211 §2.2: why the request went forward. */
  fwd?: "miss" | "bypass" | "stale" | "uri-miss" | "vary-miss" | "request";
  /** RFC 9211 §2.3: the status code the next hop returned. */
  fwdStatus?: number | undefined;
  /** RFC 9211 §2.4: the origin's response was stored. */
  stored?: boolean;
  /** RFC 9211 §2.5: freshness left, seconds (negative when stale). */
  ttl?: number;
  /** RFC 9211 §2.7: implementation-specific detail (a token). */
  detail?: string | undefined;
  /** The shield's report, listed before ours (RFC 9211 §2: the cache closest to the origin first). */
  upstream?: Upstream | undefined;
}

/** Serialise our Cache-Status member (an RFC 8941 list member). */
export function formatCacheStatus(s: CacheStatus, name = CACHE_NAME): string {
  let v = name;
  if (s.hit) v += "; hit";
  if (s.fwd) v += `; fwd=${s.fwd}`;
  if (s.fwdStatus !== undefined) v += `; fwd-status=${s.fwdStatus}`;
  if (s.stored) v += "; stored";
  if (s.ttl !== undefined) v += `; ttl=${Math.round(s.ttl)}`;
  if (s.detail) v += `; detail=${/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]*$/.test(s.detail) ? s.detail : JSON.stringify(s.detail)}`;
  if (s.tier) v += `; ec-tier=${s.tier}`;
  return v;
}
