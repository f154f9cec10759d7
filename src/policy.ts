/**
 * Policy (pure): which rule a path matches, whether a request bypasses the cache, and whether a
 * response may be stored in a shared cache and for how long. The one place that decides
 * "cacheable". Each predicate quotes the part of RFC 9111 it implements; the clock is an argument.
 */
import type { Rule } from "./config.ts";
import { type CacheControl, deltaSeconds, parseCacheControl } from "./http/cache-control.ts";

/** First rule whose pattern matches the (normalised) path; patterns: exact, "/prefix/*", "*". */
export function matchRule(path: string, rules: readonly Rule[]): Rule | undefined {
  for (const rule of rules) {
    for (const p of rule.paths) {
      if (p === "*" || p === path) return rule;
      if (p.endsWith("*") && path.startsWith(p.slice(0, -1))) return rule;
    }
  }
  return undefined;
}

export type BypassReason = "method" | "rule" | "session" | "authorization" | "nocache-param";

export interface RequestFacts {
  method: string;
  rule: Rule | undefined;
  sessionCookies: readonly string[];
  hasAuthorization: boolean;
  nocacheParam: boolean;
}

/** Why this request must not be answered from (or stored in) the cache; null when it may. */
export function bypassReason(req: RequestFacts): BypassReason | null {
  // RFC 9111 §2: "caches ... may only cache responses to GET"; HEAD is answered from GET entries.
  if (req.method !== "GET" && req.method !== "HEAD") return "method";
  if (req.rule?.bypass) return "rule";
  if (req.sessionCookies.length > 0) return "session";
  // RFC 9111 §3.5: a shared cache must not reuse a response to a request with Authorization
  // unless the response explicitly allows it; we do not send such requests through the cache at all.
  if (req.hasAuthorization) return "authorization";
  if (req.nocacheParam) return "nocache-param";
  return null;
}

/**
 * A request too large to handle: RFC 9110 §15.5.15 (414 URI Too Long) and RFC 6585 §5
 * (431 Request Header Fields Too Large). Answered by us, never forwarded, never stored.
 */
export function requestTooLarge(
  request: Request,
  maxUrl: number,
  maxHeaderBytes: number,
): { status: 414 | 431; detail: string; message: string } | null {
  if (request.url.length > maxUrl) {
    return { status: 414, detail: "url-too-long", message: `URI Too Long: the URL is over ${maxUrl} bytes` };
  }
  let bytes = 0;
  request.headers.forEach((value, name) => { bytes += name.length + value.length + 4; });
  if (bytes > maxHeaderBytes) {
    return { status: 431, detail: "headers-too-large", message: `Request Header Fields Too Large: over ${maxHeaderBytes} bytes` };
  }
  return null;
}

/** RFC 9110 §15.1: status codes "heuristically cacheable" (206, 405, 414, 501 left out: request-shaped). */
const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 300, 301, 308, 404, 410]);
/** Understood statuses we store only when the origin gives explicit freshness. */
const EXPLICIT_ONLY = new Set([302, 307]);
/** Negative answers: stored, but never longer than the configured negative TTL. */
const NEGATIVE = new Set([404, 410]);

export type NoStoreReason =
  | "status" | "no-store" | "private" | "set-cookie" | "vary" | "content-type" | "no-cache" | "no-freshness" | "stale";

export type StoreDecision =
  | {
      store: true;
      /** Seconds the entry is fresh at the edge, counted from when it was received. */
      ttl: number;
      /** Age (seconds) the response already had when received (RFC 9111 §4.2.3). */
      initialAge: number;
      /** Cache-Control the client sees (the rule's when the rule applied, else the origin's). */
      cacheControl: string | null;
      source: "rule" | "origin";
    }
  | { store: false; reason: NoStoreReason; cacheControl: string | null };

export interface ResponseFacts {
  status: number;
  headers: Headers;
  rule: Rule | undefined;
  /** Request headers the key already accounts for (lower case); Vary on anything else is not storable. */
  keyedVary: ReadonlySet<string>;
  negativeTtl: number;
  now: number;
}

/** Decide whether a response to a cacheable request is stored, for how long, and what the client sees. */
export function storeDecision(res: ResponseFacts): StoreDecision {
  const h = res.headers;
  const originCC = h.get("cache-control");
  const cc = parseCacheControl(originCC);
  const no = (reason: NoStoreReason, cacheControl = originCC): StoreDecision => ({ store: false, reason, cacheControl });

  const heuristic = HEURISTICALLY_CACHEABLE.has(res.status);
  // RFC 9111 §3: "the response status code is final" and "understood by the cache".
  if (!heuristic && !EXPLICIT_ONLY.has(res.status)) return no("status");
  // RFC 9111 §5.2.2.5: "no-store ... a cache MUST NOT store any part of ... the response".
  if (cc.has("no-store")) return no("no-store");
  // RFC 9111 §5.2.2.7: "private ... a shared cache MUST NOT store the response".
  if (cc.has("private")) return no("private");
  // A Set-Cookie belongs to one user: never shared, never stripped-and-stored. Tell caches
  // downstream the same thing when the origin said nothing.
  if (h.has("set-cookie")) return no("set-cookie", originCC ?? "private");
  // RFC 9111 §4.1: a stored response may be reused only when the request matches its Vary;
  // the Cache API ignores Vary, so every Vary field must be part of our key.
  if (!varyIsKeyed(h.get("vary"), res.keyedVary)) return no("vary");
  if (res.rule?.contentTypes && !contentTypeMatches(h.get("content-type"), res.rule.contentTypes)) {
    return no("content-type");
  }

  const initialAge = ageOf(h);
  const negative = NEGATIVE.has(res.status);
  const cap = (ttl: number) => (negative ? Math.min(ttl, res.negativeTtl) : ttl);
  const silent = originCC === null && !h.has("expires");
  const rule = res.rule && !res.rule.bypass && res.rule.cacheControl !== undefined ? res.rule : undefined;

  if (rule && heuristic && (silent || rule.mode === "override")) {
    const ruleCC = parseCacheControl(rule.cacheControl);
    const ttl = cap(deltaSeconds(ruleCC, "s-maxage") ?? deltaSeconds(ruleCC, "max-age") ?? 0) - initialAge;
    if (ttl <= 0) return no("stale");
    const clientCC = negative ? `public, max-age=${res.negativeTtl}` : (rule.cacheControl ?? null);
    return { store: true, ttl, initialAge, cacheControl: clientCC, source: "rule" };
  }

  // RFC 9111 §5.2.2.4: "no-cache ... MUST NOT be used to satisfy any other request without
  // forwarding it for validation". Until revalidation exists, such responses are not stored.
  if (cc.has("no-cache")) return no("no-cache");
  let lifetime = freshnessLifetime(h, cc, res.now);
  if (lifetime === undefined) {
    // RFC 9111 §4.2.2: without explicit expiry a cache may assign a heuristic freshness lifetime
    // to a heuristically cacheable (or "public") response; ours is the matching rule's TTL.
    if (!rule || !(heuristic || cc.has("public"))) return no("no-freshness");
    const ruleCC = parseCacheControl(rule.cacheControl);
    lifetime = deltaSeconds(ruleCC, "s-maxage") ?? deltaSeconds(ruleCC, "max-age") ?? 0;
  }
  const ttl = cap(lifetime) - initialAge;
  if (ttl <= 0) return no("stale");
  return { store: true, ttl, initialAge, cacheControl: originCC, source: "origin" };
}

/**
 * RFC 9111 §4.2.1: "If the cache is shared and the s-maxage response directive is present, use its
 * value, or if the max-age response directive is present, use its value, or if the Expires response
 * header field is present, use its value minus the value of the Date response header field (using
 * the time the message was received if it is not present)". Undefined: no explicit lifetime.
 */
export function freshnessLifetime(h: Headers, cc: CacheControl, now: number): number | undefined {
  const sMaxAge = deltaSeconds(cc, "s-maxage");
  if (sMaxAge !== undefined) return sMaxAge;
  const maxAge = deltaSeconds(cc, "max-age");
  if (maxAge !== undefined) return maxAge;
  const expires = h.get("expires");
  if (expires === null) return undefined;
  // RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the value
  // "0", as representing a time in the past (i.e., "already expired")."
  const exp = Date.parse(expires);
  if (Number.isNaN(exp)) return 0;
  const dateHeader = h.get("date");
  const date = dateHeader !== null && !Number.isNaN(Date.parse(dateHeader)) ? Date.parse(dateHeader) : now;
  return Math.max(0, Math.floor((exp - date) / 1000));
}

/** RFC 9111 §5.1: Age is delta-seconds; an invalid value is ignored. */
export function ageOf(h: Headers): number {
  const v = h.get("age")?.trim();
  return v && /^\d+$/.test(v) ? Math.min(Number(v), 2147483648) : 0;
}

/** True when every field named in Vary is one the key accounts for ("*" never is). */
export function varyIsKeyed(vary: string | null, keyed: ReadonlySet<string>): boolean {
  if (!vary) return true;
  for (const field of vary.split(",")) {
    const name = field.trim().toLowerCase();
    if (name === "") continue;
    if (!keyed.has(name)) return false;
  }
  return true;
}

/** Media type of Content-Type matches one of the patterns ("image/*" matches any image). */
export function contentTypeMatches(contentType: string | null, patterns: readonly string[]): boolean {
  if (!contentType) return false;
  const type = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return patterns.some((p) => {
    const pat = p.toLowerCase();
    return pat.endsWith("/*") ? type.startsWith(pat.slice(0, -1)) : type === pat;
  });
}
