/**
 * recv (pure over the request and the configuration): what the request is and where it goes next.
 * Limits, cookies, key, rule, then the conditions that keep it away from the cache, as data.
 * Varnish's vcl_recv: answered here (synth), passed to the origin, or looked up.
 */
import type { Config, Rule } from "../config.ts";
import { analyseCookies, type CookieAnalysis } from "../cookies.ts";
import { ambiguousPath, buildKey, type CacheKey } from "../key.ts";
import { fillRequest, type OriginRequest, passRequest } from "../origin.ts";
import { matchBypassRule, matchRuleWithPattern, type TooLarge, urlTooLong } from "../policy.ts";

/** Everything later phases know about the request. */
export interface RequestFacts {
  request: Request;
  url: URL;
  method: string;
  headOnly: boolean;
  /** The request carries Authorization (RFC 9111 §3.5 limits what may be stored from it). */
  hasAuthorization: boolean;
  cookies: CookieAnalysis;
  key: CacheKey;
  rule: Rule | undefined;
  /** The rule's pattern that matched (explain). */
  pattern: string | undefined;
  /** A bypass rule matching the path as an origin may route it (decoded, case-insensitive), if any. */
  bypassRule: Rule | undefined;
  /** What the origin receives on a cacheable fetch, from the key alone (built on first use: a plain HIT never pays for it). */
  originRequest(): OriginRequest;
  /** An ESI fragment (a subrequest of an assembled page), not a client's request. */
  fragment: boolean;
}

/**
 * A condition that keeps a request away from the stored copies. `effect`: "pass" sends it to the
 * origin as sent and stores nothing; "refresh" skips the lookup but fetches a cacheable request
 * whose answer may be stored. `report`: what X-Cache says.
 */
export interface SkipCondition {
  readonly name: string;
  readonly why: string;
  readonly effect: "pass" | "refresh";
  readonly report: "BYPASS" | "MISS";
  when(f: RequestFacts, config: Config): boolean;
}

/** The conditions, in order; the first that holds decides. Add one here and explain reports it too. */
export const SKIP_CONDITIONS = [
  {
    // RFC 9111 §2: "caches ... may only cache responses to GET"; HEAD is answered from GET entries.
    name: "method", why: "only GET and HEAD are answered from the cache", effect: "pass", report: "BYPASS",
    when: (f) => f.method !== "GET" && f.method !== "HEAD",
  },
  {
    name: "ambiguous-path", why: "the path has encoded slashes or backslashes, double encoding, NUL or ;parameters: origins may route it elsewhere than it reads, so it is never stored",
    effect: "pass", report: "BYPASS", when: (f) => ambiguousPath(f.key.path) !== null,
  },
  {
    name: "rule", why: "a bypass rule matches the path (as the origin may route it: decoded, case-insensitive)", effect: "pass", report: "BYPASS",
    when: (f) => f.rule?.bypass === true || f.bypassRule !== undefined,
  },
  {
    // On an ESI rule, and for fragments, a session gets the shared page (fetched without its
    // cookies) and its personal fragments with them: see pipeline.ts, ownFetchNeeded.
    name: "session", why: "a session cookie is present: the page may be personal", effect: "pass", report: "BYPASS",
    when: (f) => f.cookies.session.length > 0 && !f.fragment && f.rule?.esi !== true,
  },
  {
    name: "ambiguous-cookie", why: "the Cookie header could be read differently by the origin (control characters, a name that is not a token, a keyed or session cookie twice)",
    effect: "pass", report: "BYPASS", when: (f) => f.cookies.ambiguous !== null,
  },
  {
    // RFC 9111 §3.5: a response to a request with Authorization is for that user; it is never shared.
    name: "authorization", why: "the request carries Authorization: passed to the origin, never stored or answered from the cache",
    effect: "pass", report: "BYPASS", when: (f) => f.hasAuthorization,
  },
  {
    name: "unkeyable", why: "a keyed cookie or header value is too long to be part of the key",
    effect: "pass", report: "BYPASS", when: (f) => f.key.unkeyable !== undefined,
  },
  {
    name: "nocache-param", why: "?nocache is enabled and present", effect: "pass", report: "BYPASS",
    when: (f, c) => c.allowNocacheParam && f.url.searchParams.has("nocache"),
  },
  {
    name: "client-no-cache", why: "honorClientNoCache is on and the client sent no-cache: the stored copy is skipped",
    effect: "refresh", report: "MISS",
    when: (f, c) => c.honorClientNoCache && /no-cache/i.test(`${f.request.headers.get("cache-control") ?? ""} ${f.request.headers.get("pragma") ?? ""}`),
  },
] as const satisfies readonly SkipCondition[];

export type RecvVerdict =
  | ({ kind: "synth" } & TooLarge)
  | { kind: "pass"; facts: RequestFacts; condition: SkipCondition }
  | { kind: "refresh"; facts: RequestFacts; condition: SkipCondition }
  | { kind: "lookup"; facts: RequestFacts };

/** Decide what happens to `request` (`fragment`: an ESI subrequest). */
export function recv(request: Request, config: Config, fragment = false): RecvVerdict {
  const tooLong = urlTooLong(request, config.maxUrlLength);
  if (tooLong) return { kind: "synth", ...tooLong };
  const facts = requestFacts(request, config, fragment);
  const condition = SKIP_CONDITIONS.find((c) => c.when(facts, config));
  if (!condition) return { kind: "lookup", facts };
  return condition.effect === "pass" ? { kind: "pass", facts, condition } : { kind: "refresh", facts, condition };
}

function requestFacts(request: Request, config: Config, fragment: boolean): RequestFacts {
  const url = new URL(request.url);
  const cookies = analyseCookies(request.headers.get("cookie"), config.cookieRules);
  const key = buildKey(url, request.headers, config.keyOptions, cookies);
  const matched = matchRuleWithPattern(key.path, config.rules);
  let built: OriginRequest | undefined;
  return {
    request, url, cookies, key, fragment,
    method: request.method,
    headOnly: request.method === "HEAD",
    hasAuthorization: request.headers.has("authorization"),
    rule: matched?.rule,
    pattern: matched?.pattern,
    bypassRule: matchBypassRule(key.path, config.bypassPatterns),
    originRequest: () => (built ??= fillRequest(key, config.fill, matched?.rule.esi === true)),
  };
}

/** The origin request for a passed (bypassed) request: as sent, minus analytics cookies and poisoning headers. */
export function passRequestOf(f: RequestFacts, config: Config): OriginRequest {
  return passRequest(f.request.headers, {
    publicUrl: f.url, method: f.method, cookie: f.cookies.forward, body: f.request.body,
    strip: config.stripHeaderNames, forwardedHeaders: config.forwardedHeaders, clientIp: f.request.headers.get("cf-connecting-ip"),
    esi: f.rule?.esi === true,
  });
}
