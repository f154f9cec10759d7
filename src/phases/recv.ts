/**
 * recv (pure over the request and the configuration): what the request is and where it goes next.
 * Limits, cookies, key, rule, then the conditions that keep it away from the cache, as data.
 * Varnish's vcl_recv: answered here (synth), passed to the origin, or looked up.
 */
import type { Config, Rule } from "../config.ts";
import { analyseCookies, type CookieAnalysis } from "../cookies.ts";
import { buildKey, type CacheKey } from "../key.ts";
import { buildOriginRequest, type OriginRequest } from "../origin.ts";
import { matchRuleWithPattern, requestTooLarge } from "../policy.ts";

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
  /** What the origin receives on a cacheable fetch (built on first use: a plain HIT never pays for it). */
  originRequest(): OriginRequest;
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
  { name: "rule", why: "the matching rule says bypass", effect: "pass", report: "BYPASS", when: (f) => f.rule?.bypass === true },
  {
    name: "session", why: "a session cookie is present: the page may be personal", effect: "pass", report: "BYPASS",
    when: (f) => f.cookies.session.length > 0,
  },
  {
    // RFC 9111 §3.5: a shared cache must not reuse a response to a request with Authorization; the
    // answer may be stored only when the response says it may be shared.
    name: "authorization", why: "the request carries Authorization: never answered from the cache (RFC 9111 §3.5)",
    effect: "refresh", report: "BYPASS", when: (f) => f.hasAuthorization,
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
  | { kind: "synth"; status: 414 | 431; detail: string; message: string }
  | { kind: "pass"; facts: RequestFacts; condition: SkipCondition }
  | { kind: "refresh"; facts: RequestFacts; condition: SkipCondition }
  | { kind: "lookup"; facts: RequestFacts };

/** Decide what happens to `request`. */
export function recv(request: Request, config: Config): RecvVerdict {
  const tooLarge = requestTooLarge(request, config.maxUrlLength, config.maxHeaderBytes);
  if (tooLarge) return { kind: "synth", ...tooLarge };
  const facts = requestFacts(request, config);
  const condition = SKIP_CONDITIONS.find((c) => c.when(facts, config));
  if (!condition) return { kind: "lookup", facts };
  return condition.effect === "pass" ? { kind: "pass", facts, condition } : { kind: "refresh", facts, condition };
}

function requestFacts(request: Request, config: Config): RequestFacts {
  const url = new URL(request.url);
  const cookies = analyseCookies(request.headers.get("cookie"), config.analyticsPatterns, config.sessionCookies);
  const key = buildKey(url, request.headers, config.keyOptions);
  const matched = matchRuleWithPattern(key.path, config.rules);
  let built: OriginRequest | undefined;
  return {
    request, url, cookies, key,
    method: request.method,
    headOnly: request.method === "HEAD",
    hasAuthorization: request.headers.has("authorization"),
    rule: matched?.rule,
    pattern: matched?.pattern,
    originRequest: () => (built ??= buildOriginRequest(request.headers, {
      publicUrl: url, pathAndQuery: key.query ? `${key.path}?${key.query}` : key.path, method: "GET",
      cookie: cookies.forward, language: key.language, cacheable: true, body: null,
      strip: config.stripHeaderNames, allow: config.forwardHeaderNames,
      forwardedHeaders: config.forwardedHeaders, clientIp: request.headers.get("cf-connecting-ip"),
    })),
  };
}

/** The origin request for a passed (bypassed) request: as sent, minus analytics cookies and poisoning headers. */
export function passRequest(f: RequestFacts, config: Config): OriginRequest {
  return buildOriginRequest(f.request.headers, {
    publicUrl: f.url, pathAndQuery: f.url.pathname + f.url.search, method: f.method, cookie: f.cookies.forward,
    cacheable: false, body: f.request.body, strip: config.stripHeaderNames, forwardedHeaders: config.forwardedHeaders,
    clientIp: f.request.headers.get("cf-connecting-ip"),
  });
}
