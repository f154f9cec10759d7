/**
 * One timed GET through the worker, reading what src/respond.ts sets: X-Cache (HIT | MISS |
 * BYPASS) and our Cache-Status member (`edge-cache; fwd=uri-miss; stored; ttl=1800; detail=html`).
 */
import { describeFetchError } from "./targets.ts";

/** The name src/respond.ts uses in Cache-Status. */
const CACHE_NAME = "edge-cache";

export interface Probe {
  /** HTTP status; 0 when the request failed (see `error`). */
  status: number;
  /** X-Cache as sent ("" when absent: not answered by edge-cache). */
  xCache: string;
  /** Our Cache-Status member ("" when absent). */
  cacheStatus: string;
  /** Cache-Status says the response was stored. */
  stored: boolean;
  /** Cache-Status detail (rule name, bypass reason, ...). */
  detail: string;
  /** Request start to last body byte, ms. */
  ms: number;
  bytes: number;
  error?: string;
}

export interface ProbeOptions {
  /** Sent as Accept-Language (each language is its own cache entry when the worker keys on it). */
  language?: string | undefined;
  timeoutMs: number;
  userAgent: string;
}

/** Our member of a Cache-Status list (the last one named edge-cache: members are appended). */
export function ourCacheStatus(header: string | null): string {
  if (!header) return "";
  const members = header.split(",").map((m) => m.trim());
  return members.filter((m) => m === CACHE_NAME || m.startsWith(`${CACHE_NAME};`)).pop() ?? "";
}

export function cacheStatusParam(member: string, name: string): string | true | undefined {
  for (const part of member.split(";").slice(1)) {
    const [k, ...rest] = part.trim().split("=");
    if (k?.toLowerCase() === name) return rest.length ? rest.join("=").replace(/^"|"$/g, "") : true;
  }
  return undefined;
}

export async function probe(url: string, opts: ProbeOptions): Promise<Probe> {
  const headers: Record<string, string> = { "user-agent": opts.userAgent };
  if (opts.language) headers["accept-language"] = opts.language;
  const t0 = performance.now();
  try {
    // manual: a redirect is the answer for this URL (cached or not), not a reason to fetch another.
    const res = await fetch(url, { headers, redirect: "manual", signal: AbortSignal.timeout(opts.timeoutMs) });
    const body = await res.arrayBuffer();
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    const cs = ourCacheStatus(res.headers.get("cache-status"));
    const detail = cacheStatusParam(cs, "detail");
    return {
      status: res.status,
      xCache: (res.headers.get("x-cache") ?? "").toUpperCase(),
      cacheStatus: cs,
      stored: cacheStatusParam(cs, "stored") === true,
      detail: typeof detail === "string" ? detail : "",
      ms,
      bytes: body.byteLength,
    };
  } catch (e) {
    return { status: 0, xCache: "", cacheStatus: "", stored: false, detail: "", ms: Math.round((performance.now() - t0) * 10) / 10, bytes: 0, error: describeFetchError(e, opts.timeoutMs) };
  }
}

export interface Pair {
  first: Probe;
  /** The confirming request (the last one, when it was retried); `first` again when that failed. */
  second: Probe;
  /** Extra confirming requests made because the entry was still being written. */
  retries: number;
}

/**
 * Request the URL, then again to see it served from the cache. The worker stores a miss in the
 * background (waitUntil, after reading the whole body), so a confirming request sent at once can
 * still miss: when the first answer said `stored` and the second is a MISS, wait and ask again,
 * at most `confirmRetries` times.
 */
export async function requestTwice(url: string, opts: ProbeOptions & { confirmRetries: number }): Promise<Pair> {
  const first = await probe(url, opts);
  if (first.error) return { first, second: first, retries: 0 };
  let second = await probe(url, opts);
  let retries = 0;
  while (first.stored && second.xCache === "MISS" && !second.error && retries < opts.confirmRetries) {
    await new Promise((r) => setTimeout(r, 250 * 2 ** retries));
    retries++;
    second = await probe(url, opts);
  }
  return { first, second, retries };
}

/** Status an operator accepts from a page worth caching: 2xx or 3xx. */
export function okStatus(status: number): boolean {
  return status >= 200 && status < 400;
}

/** "MISS" / "BYPASS (rule)" / "-" for tables. */
export function xCacheLabel(p: Probe): string {
  return p.error ? "-" : p.xCache || "(none)";
}

/** Why a response will not become a HIT, when the worker said so ("bypass: rule", "not stored: set-cookie"). */
export function notCacheableReason(first: Probe): string | undefined {
  if (first.xCache === "BYPASS") return `bypass${first.detail ? `: ${first.detail}` : ""}`;
  if (first.xCache === "MISS" && !first.stored) return `not stored${first.detail ? `: ${first.detail}` : ""}`;
  return undefined;
}
