/**
 * Policy (pure): which rule a path matches, whether a request bypasses the cache, and whether a
 * response may be stored in a shared cache and for how long. The one place that decides
 * "cacheable". Each predicate quotes the part of RFC 9111 it implements; the clock is an argument.
 */
import type { Rule } from "./config.ts";
import { type CacheControl, deltaSeconds, parseCacheControl } from "./http/cache-control.ts";
import { type Dictionary, parseDictionary, Token } from "structured-headers";
import { parseHttpDate } from "./http/date.ts";
import { routingPath } from "./key.ts";

/** First rule whose pattern matches the (normalised) path; patterns: exact, "/prefix/*", "*". */
export function matchRule(path: string, rules: readonly Rule[]): Rule | undefined {
  return matchRuleWithPattern(path, rules)?.rule;
}

/**
 * The first bypass rule matching the path as an origin may route it: decoded (also doubly),
 * `;params` stripped, dot segments resolved, compared case-insensitively. So `/cart%2F`, `/CART/`
 * or `/x/..;/cart/` cannot slip past a bypass rule for `/cart/*`.
 */
export function matchBypassRule(path: string, bypass: readonly BypassPattern[]): Rule | undefined {
  if (bypass.length === 0) return undefined;
  // Only escapes, backslashes, ";" and dot segments make the routed path differ from the path itself.
  const routed = (/[%\\;]|\/\.\.?(\/|$)/.test(path) ? routingPath(path) : path).toLowerCase();
  for (const { rule, pattern } of bypass) {
    if (pattern === "*" || pattern === routed || (pattern.endsWith("*") && routed.startsWith(pattern.slice(0, -1)))) return rule;
  }
  return undefined;
}

/** A bypass rule's pattern, lower-cased (compiled once with the configuration). */
export interface BypassPattern {
  rule: Rule;
  pattern: string;
}

/** The lower-cased patterns of the bypass rules, in rule order. */
export function bypassPatterns(rules: readonly Rule[]): BypassPattern[] {
  return rules.filter((r) => r.bypass).flatMap((rule) => rule.paths.map((p) => ({ rule, pattern: p.toLowerCase() })));
}

/** The matching rule and the pattern that matched (for explain). */
export function matchRuleWithPattern(path: string, rules: readonly Rule[]): { rule: Rule; pattern: string } | undefined {
  for (const rule of rules) {
    for (const p of rule.paths) {
      if (p === "*" || p === path || (p.endsWith("*") && path.startsWith(p.slice(0, -1)))) return { rule, pattern: p };
    }
  }
  return undefined;
}

/** A request too large to handle, answered by us, never forwarded, never stored. */
export interface TooLarge {
  status: 414 | 431;
  detail: string;
  message: string;
}

/** RFC 9110 §15.5.15: 414 URI Too Long. */
export function urlTooLong(request: Request, maxUrl: number): TooLarge | null {
  if (request.url.length <= maxUrl) return null;
  return { status: 414, detail: "url-too-long", message: `URI Too Long: the URL is over ${maxUrl} bytes` };
}

/**
 * RFC 6585 §5: 431 Request Header Fields Too Large. Checked only before a request would go to the
 * origin (a hit forwards nothing), so the common path does not walk every header.
 */
export function headersTooLarge(request: Request, maxHeaderBytes: number): TooLarge | null {
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
      /** Seconds the entry is fresh at the edge, counted from when it was received (0: revalidate every time). */
      ttl: number;
      /** Age (seconds) the response already had when received (RFC 9111 §4.2.3). */
      initialAge: number;
      /** Cache-Control the client sees (the rule's when the rule applied, else the origin's). */
      cacheControl: string | null;
      source: "rule" | "origin";
      /** Seconds past freshness the entry may be served while it is refreshed (RFC 5861 §3). */
      swr: number;
      /** Seconds past freshness the entry may be served when the origin fails (RFC 5861 §4). */
      sie: number;
      /** Never serve stale without revalidating (must-revalidate, proxy-revalidate, no-cache, s-maxage). */
      strict: boolean;
    }
  | { store: false; reason: NoStoreReason; cacheControl: string | null };

export interface ResponseFacts {
  status: number;
  headers: Headers;
  rule: Rule | undefined;
  negativeTtl: number;
  now: number;
  /** Grace windows applied when the response does not set its own (and is not strict). */
  defaultSwr?: number;
  defaultSie?: number;
}

/**
 * RFC 9213 §2.1: a cache that recognises a targeted field (Cloudflare-CDN-Cache-Control, then
 * CDN-Cache-Control) with valid directives "MUST ignore the Cache-Control and Expires header fields".
 */
export function targetedCacheControl(h: Headers): { cc: CacheControl; targeted: boolean } {
  for (const name of ["cloudflare-cdn-cache-control", "cdn-cache-control"]) {
    const cc = parseTargetedField(h.get(name));
    if (cc !== null && cc.size > 0) return { cc, targeted: true };
  }
  return { cc: parseCacheControl(h.get("cache-control")), targeted: false };
}

/**
 * RFC 9213 §2.1: a targeted field is an RFC 8941 Dictionary; "if the field's value is invalid
 * (e.g., it cannot be parsed as a Dictionary), ... the field [is] ignored" as a whole. Parameters
 * are ignored; Integer, Token and String values keep their text, and `max-age=-1` reads as
 * malformed (stale), like any other non-delta-seconds value.
 */
export function parseTargetedField(value: string | null): CacheControl | null {
  if (value === null) return null;
  let dict: Dictionary;
  try {
    dict = parseDictionary(value);
  } catch {
    return null;
  }
  const cc: CacheControl = new Map();
  for (const [name, [item]] of dict) {
    if (Array.isArray(item)) return null; // an Inner List is no directive value
    if (item === true) cc.set(name, true);
    else if (typeof item === "number") cc.set(name, Number.isInteger(item) && item >= 0 ? String(item) : "invalid");
    else if (typeof item === "string" || item instanceof Token) cc.set(name, String(item));
    // Other types (?0, byte sequences...) mean nothing as a cache directive: that directive is ignored.
  }
  return cc;
}

/** Decide whether a response to a cacheable request is stored, for how long, and what the client sees. */
export function storeDecision(res: ResponseFacts): StoreDecision {
  const h = res.headers;
  const originCC = h.get("cache-control");
  const { cc, targeted } = targetedCacheControl(h);
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
  // RFC 9111 §4.1: "A stored response with a Vary header field value containing a member "*"
  // always fails to match". Other Vary fields need nothing: the origin receives only what the key holds.
  if (varyFields(h.get("vary")).includes("*")) return no("vary");
  if (res.rule?.contentTypes && !contentTypeMatches(h.get("content-type"), res.rule.contentTypes)) {
    return no("content-type");
  }

  const initialAge = ageOf(h);
  const negative = NEGATIVE.has(res.status);
  const cap = (ttl: number) => (negative ? Math.min(ttl, res.negativeTtl) : ttl);
  const silent = !targeted && originCC === null && !h.has("expires");
  const rule = res.rule && !res.rule.bypass && res.rule.cacheControl !== undefined ? res.rule : undefined;
  const validators = h.has("etag") || h.has("last-modified");
  const grace = (from: CacheControl, strict: boolean, ttl: number) => {
    // Negative answers (which anyone can provoke) never live longer than negativeTtl, fresh or
    // stale, and get no default grace: a poisoned 404 must not outlast an outage.
    const room = negative ? Math.max(0, res.negativeTtl - Math.max(0, ttl)) : Infinity;
    const fallback = (d: number | undefined) => (strict || negative ? 0 : d ?? 0);
    return {
      swr: Math.min(room, deltaSeconds(from, "stale-while-revalidate") ?? fallback(res.defaultSwr)),
      sie: Math.min(room, deltaSeconds(from, "stale-if-error") ?? fallback(res.defaultSie)),
    };
  };

  if (rule && heuristic && (silent || rule.mode === "override")) {
    // The operator's policy: stale serving follows the rule's own directives and the defaults.
    const ruleCC = parseCacheControl(rule.cacheControl);
    const ttl = cap(deltaSeconds(ruleCC, "s-maxage") ?? deltaSeconds(ruleCC, "max-age") ?? 0) - initialAge;
    const strict = ruleCC.has("must-revalidate") || ruleCC.has("proxy-revalidate") || ruleCC.has("no-cache");
    const g = grace(ruleCC, strict, ttl);
    if (ttl <= 0 && !validators && g.swr === 0 && g.sie === 0) return no("stale");
    const clientCC = negative ? `public, max-age=${res.negativeTtl}` : (rule.cacheControl ?? null);
    return { store: true, ttl: Math.max(0, ttl), initialAge, cacheControl: clientCC, source: "rule", strict, ...g };
  }

  // RFC 9111 §5.2.2.4: "no-cache ... MUST NOT be used to satisfy any other request without
  // forwarding it for validation": stored only when it can be validated, and always revalidated.
  const noCache = cc.has("no-cache");
  if (noCache && !validators) return no("no-cache");
  // RFC 9111 §5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate, and §5.2.2.10: s-maxage "also
  // implies the semantics of proxy-revalidate": no stale serving, unless the origin grants it
  // explicitly with stale-while-revalidate / stale-if-error (RFC 5861) next to s-maxage.
  const explicitGrace = cc.has("stale-while-revalidate") || cc.has("stale-if-error");
  const strict = noCache || cc.has("must-revalidate") || cc.has("proxy-revalidate") || (cc.has("s-maxage") && !explicitGrace);
  // With s-maxage only the origin's own windows apply, never our defaults.
  const defaultsAllowed = !cc.has("s-maxage");
  let lifetime = noCache ? 0 : freshnessLifetime(h, cc, res.now, targeted);
  if (lifetime === undefined) {
    // RFC 9111 §4.2.2: without explicit expiry a cache may assign a heuristic freshness lifetime
    // to a heuristically cacheable (or "public") response; ours is the matching rule's TTL.
    if (!rule || !(heuristic || cc.has("public"))) return no("no-freshness");
    const ruleCC = parseCacheControl(rule.cacheControl);
    lifetime = deltaSeconds(ruleCC, "s-maxage") ?? deltaSeconds(ruleCC, "max-age") ?? 0;
  }
  const ttl = cap(lifetime) - initialAge;
  const g = grace(cc, strict || !defaultsAllowed, ttl);
  if (ttl <= 0 && !validators && g.swr === 0 && g.sie === 0) return no("stale");
  return { store: true, ttl: Math.max(0, ttl), initialAge, cacheControl: originCC, source: "origin", strict, ...g };
}

/** Field names listed in Vary, lower-cased, without empties. */
export function varyFields(vary: string | null): string[] {
  if (!vary) return [];
  return vary.split(",").map((f) => f.trim().toLowerCase()).filter((f) => f !== "");
}

/**
 * RFC 9111 §4.2.1: "If the cache is shared and the s-maxage response directive is present, use its
 * value, or if the max-age response directive is present, use its value, or if the Expires response
 * header field is present, use its value minus the value of the Date response header field (using
 * the time the message was received if it is not present)". Undefined: no explicit lifetime.
 */
export function freshnessLifetime(h: Headers, cc: CacheControl, now: number, ignoreExpires = false): number | undefined {
  const sMaxAge = deltaSeconds(cc, "s-maxage");
  if (sMaxAge !== undefined) return sMaxAge;
  const maxAge = deltaSeconds(cc, "max-age");
  if (maxAge !== undefined) return maxAge;
  const expires = ignoreExpires ? null : h.get("expires");
  if (expires === null) return undefined;
  // RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the value
  // "0", as representing a time in the past (i.e., "already expired")."
  // RFC 9110 §5.6.7: only IMF-fixdate, RFC 850 and asctime are dates; anything else is in the past.
  const exp = parseHttpDate(expires);
  if (exp === null) return 0;
  const date = parseHttpDate(h.get("date")) ?? now;
  return Math.max(0, Math.floor((exp - date) / 1000));
}

/**
 * RFC 9111 §5.1: Age is delta-seconds; an invalid value is ignored. A list (`Age: 7200, 0`, or
 * two Age lines, which arrive joined) is a sender error: its first member is used (RFC 9110 §5.5).
 */
export function ageOf(h: Headers): number {
  const v = h.get("age")?.split(",")[0]?.trim();
  return v && /^\d+$/.test(v) ? Math.min(Number(v), 2147483648) : 0;
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
