/**
 * Every configuration option: its schema (zod/mini, built only for the options a configuration
 * sets) and its default, as one table; and the validation of what a configuration gives against
 * it, every problem named by its path ("rules[2].cacheControl: ..."). config.ts compiles the result.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { DEFAULT_ANALYTICS_COOKIES, DEFAULT_TRACKING_PARAMS, POISONING_HEADERS } from "./defaults.ts";
import { parseCacheControl } from "./http/cache-control.ts";
import { isIpOrCidr } from "./ip.ts";

/** Thrown when the configuration is invalid; `message` names the field and the reason. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Longest path pattern accepted. */
export const MAX_PATH_PATTERN = 512;

const str = () => z.string();
const headerName = () => z.string().check(z.regex(/^[A-Za-z0-9-]+$/));
const int = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));
const withDefault = <T extends z.ZodMiniType>(schema: T, value: z.output<T>) => z._default(schema, value as never);
/** A value built on first use, then kept. */
const lazy = <T>(make: () => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};
/** zod/mini carries no messages of its own: the English ones are loaded the first time something is validated. */
const useEnglishMessages = lazy(() => z.config(en()));

const pathPattern = () => str().check(
  z.maxLength(MAX_PATH_PATTERN),
  z.refine((p: string) => p === "*" || p.startsWith("/"), "must be \"*\" or start with \"/\""),
  z.refine((p: string) => !p.slice(0, -1).includes("*"), "\"*\" is only allowed at the end"),
);

const cacheControlString = () => str().check(z.refine((v: string) => parseCacheControl(v).size > 0, "is not a Cache-Control value"));

const ruleSchema = lazy(() => z.strictObject({
  /** Shown in Cache-Status, logs and the explain endpoint. */
  name: str().check(z.regex(/^[a-z0-9][a-z0-9_-]*$/i, "must be a simple identifier")),
  /** Path patterns: exact ("/health"), prefix ("/static/*") or everything ("*"). */
  paths: z.array(pathPattern()).check(z.minLength(1)),
  /** Never cache: forward to the origin and never store (admin, health checks). */
  bypass: withDefault(z.boolean(), false),
  /** Cache-Control applied to the response: browsers read max-age, the edge reads s-maxage then max-age. */
  cacheControl: z.optional(cacheControlString()),
  /**
   * "fill": apply `cacheControl` only when the origin sent no caching headers (no Cache-Control, no Expires).
   * "override": apply it whatever the origin said, except that private / no-store / Set-Cookie are never
   * turned into a shared entry.
   */
  mode: withDefault(z.enum(["fill", "override"]), "fill"),
  /**
   * When set, a response is stored only if its Content-Type matches one of these ("image/*" allowed),
   * so a dynamic page answering under /static/ is never stored as a static asset.
   */
  contentTypes: z.optional(z.array(str().check(z.regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/i)))),
  /** Tags added to every entry this rule stores (purge them all at once). */
  tags: withDefault(z.array(str()), []),
  /** Key entries by the folded language (when `languages` is set). Off for assets that never vary by language. */
  language: withDefault(z.boolean(), true),
  /**
   * Edge Side Includes: assemble this rule's HTML responses that the origin marks
   * `Surrogate-Control: content="ESI/1.0"`. Visitors with a session then get the shared page,
   * fetched without their cookies, with their personal fragments fetched with them.
   */
  esi: z.optional(z.boolean()),
}).check(z.superRefine((rule, ctx) => {
  if (!rule.bypass && rule.cacheControl === undefined) {
    ctx.addIssue({ code: "custom", message: "needs cacheControl unless bypass is true", path: ["cacheControl"], input: rule });
  }
  if (rule.esi && rule.bypass) {
    ctx.addIssue({ code: "custom", message: "a bypass rule is never assembled: esi needs a cached rule", path: ["esi"], input: rule });
  }
  if (rule.cacheControl !== undefined && !rule.bypass) {
    const cc = parseCacheControl(rule.cacheControl);
    if (!cc.has("max-age") && !cc.has("s-maxage")) {
      ctx.addIssue({ code: "custom", message: "needs max-age or s-maxage", path: ["cacheControl"], input: rule });
    }
  }
})));

export type Rule = Readonly<z.output<ReturnType<typeof ruleSchema>>>;

/** Durable Object location hints (durable-objects/reference/data-location). */
export const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;

const shieldSchema = () => z.strictObject({
  /** Misses ask the shield (the SHIELD Durable Object binding must exist) instead of the origin. */
  enabled: withDefault(z.boolean(), true),
  /** Where new shield objects are placed: the region nearest the origin. Absent: near the first request for a key. */
  locationHint: z.optional(z.enum(LOCATION_HINTS)),
  /** A shield that has not answered in this long (ms) is bypassed for the request (default: originTimeoutMs + 1000). */
  timeoutMs: z.optional(int(100, 130_000)),
});

const securityHeadersSchema = () => z.strictObject({
  contentTypeOptions: withDefault(z.boolean(), false),
  frameOptions: z.optional(z.enum(["DENY", "SAMEORIGIN"])),
  /** Strict-Transport-Security max-age in seconds; 0 or absent sends nothing. */
  hstsMaxAge: withDefault(int(0, 63072000), 0),
  hstsIncludeSubdomains: withDefault(z.boolean(), false),
});

/** One option: its schema (built only when the option is given) and its default. */
interface Field<T extends z.ZodMiniType> {
  schema: () => T;
  fallback: z.output<T>;
}
const field = <T extends z.ZodMiniType>(schema: () => T, fallback: z.output<T>): Field<T> => ({ schema, fallback });

/**
 * Every option, with its schema and default. Schemas are built only for the options a
 * configuration sets (zod schema construction is most of the worker's start-up time otherwise).
 */
const FIELDS = {
  /** Origin base URL ("https://origin.example.com"); empty means "fetch the request's own URL" (route mode). */
  originUrl: field(() => str(), ""),
  /** Origins in order of preference (primary first); `originUrl` / ORIGIN_URL (comma-separated) fill this when empty. */
  origins: field(() => z.array(str()), []),
  /** How long an origin that failed stays out of rotation. */
  originCooldownMs: field(() => int(0, 600_000), 30_000),
  /** Default stale-if-error window (s) for entries whose origin did not set one and did not forbid it. */
  staleIfError: field(() => int(0, 7 * 86400), 86400),
  /** Default stale-while-revalidate window (s), likewise. */
  staleWhileRevalidate: field(() => int(0, 86400), 0),
  /** Let clients' `Cache-Control: no-cache` / `Pragma: no-cache` skip the cached copy (off: a DoS lever). */
  honorClientNoCache: field(() => z.boolean(), false),
  /**
   * With a usable stale copy (within stale-if-error, not must-revalidate), serve it if the origin has
   * not answered within this long (ms) and let the fetch finish in the background; 0 serves stale at
   * once. An origin in its cool-down is not waited for at all.
   */
  staleWaitMs: field(() => int(0, 120_000), 1000),
  /** The origin shield: one origin fetch per key for all locations (README, "Origin shield"). Off by default. */
  shield: field(shieldSchema, { enabled: false }),
  /** An ESI fragment that has not answered in this long (ms) fails: its `alt`, `onerror="continue"`, or an error comment. */
  esiFragmentTimeoutMs: field(() => int(50, 60_000), 5000),
  /** Abort an origin request after this long; with nothing stale to serve the client gets a 504. */
  originTimeoutMs: field(() => int(100, 120_000), 15_000),
  /** Part of every key: bump it on deploy to start from an empty cache. */
  cacheVersion: field(() => str().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9._-]")), "1"),
  /** Name passed to caches.open(). */
  cacheName: field(() => str().check(z.minLength(1), z.maxLength(64)), "edge-cache"),
  /** Path rules, merged into the defaults by name (see mergeRules); `replaceRules: true` takes them as the whole policy. */
  rules: field(() => z.array(ruleSchema()), []),
  replaceRules: field(() => z.boolean(), false),
  analyticsCookies: field(() => z.array(str().check(z.minLength(1))), DEFAULT_ANALYTICS_COOKIES),
  /** Extra analytics cookie patterns, added to the defaults rather than replacing them. */
  extraAnalyticsCookies: field(() => z.array(str().check(z.minLength(1))), []),
  /** A request carrying any of these cookies bypasses the cache (Django: sessionid). */
  sessionCookies: field(() => z.array(str().check(z.minLength(1))).check(z.minLength(1)), ["sessionid"]),
  trackingParams: field(() => z.array(str().check(z.minLength(1))), DEFAULT_TRACKING_PARAMS),
  extraTrackingParams: field(() => z.array(str().check(z.minLength(1))), []),
  /** Supported languages, first is the default. When set, Accept-Language is folded to one of these and keyed. */
  languages: field(() => z.array(str().check(z.regex(/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i))), []),
  /** Edge TTL for 404 / 410 (negative caching); the origin can shorten it, never lengthen it. */
  negativeTtl: field(() => int(0, 3600), 60),
  /**
   * Largest body stored (bytes); larger responses are served but not cached. At most 32 MiB: bodies
   * over 1 MiB stream to the Cache API, but a client and the store reading one body at different
   * speeds still buffer the difference in an isolate of 128 MB.
   */
  maxEntryBytes: field(() => int(1024, 32 * 1024 * 1024), 16 * 1024 * 1024),
  /** In-isolate memory tier in front of the Cache API: how long an object is held (ms; 0 turns it off) and bytes in all. */
  memoryCacheMs: field(() => int(0, 60_000), 1000),
  memoryCacheBytes: field(() => int(0, 64 * 1024 * 1024), 8 * 1024 * 1024),
  /** Allow `?nocache` to bypass the cache. Off: a public bypass switch is a denial-of-service lever. */
  allowNocacheParam: field(() => z.boolean(), false),
  /** Request headers bypassed requests never carry to the origin (cache-poisoning vectors), beside the hop-by-hop list. */
  stripRequestHeaders: field(() => z.array(headerName()), POISONING_HEADERS),
  /** More headers to strip, added to the defaults rather than replacing them. */
  extraStripRequestHeaders: field(() => z.array(headerName()), []),
  /**
   * Client headers that are key dimensions by value: a cacheable request forwards them (and only
   * them, besides the dimensions below) to the origin. The headers that used to be forwarded by
   * default are ignored here (README: "Migrating from forwardHeaders").
   */
  forwardHeaders: field(() => z.array(headerName()), []),
  /** Headers keyed by a folded class: `{name, classes: {sentValue: [substrings]}, otherwise}`. */
  keyHeaders: field(() => z.array(z.strictObject({
    name: headerName(),
    classes: z.record(str().check(z.regex(/^[\x20-\x7e]{1,64}$/)), z.array(str().check(z.minLength(1)))),
    otherwise: z.optional(str().check(z.regex(/^[\x20-\x7e]{0,64}$/))),
  })), []),
  /** Key (and tell the origin, as CF-Device-Type) the device class from User-Agent: mobile, tablet or desktop. */
  deviceClass: field(() => z.boolean(), false),
  /** Cookies whose values are key dimensions; the only cookies a cacheable request forwards. */
  keyCookies: field(() => z.array(str().check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a cookie name (a token)"))), []),
  /** The cookie holding an explicit language choice, folded into the language dimension ("" for none). */
  languageCookie: field(() => str().check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/)), "django_language"),
  /** What a cacheable request tells the origin instead of the client's User-Agent and Accept. */
  originUserAgent: field(() => str().check(z.regex(/^[\x20-\x7e]{1,256}$/)), "edge-cache/1 (shared cache fill)"),
  originAccept: field(() => str().check(z.regex(/^[\x20-\x7e]{1,256}$/)), "*/*"),
  /** Header carrying a request id the worker generates for each origin fetch of a cacheable request ("" for none). */
  requestIdHeader: field(() => str().check(z.regex(/^[A-Za-z0-9-]{0,64}$/)), "X-Request-ID"),
  /** Longest request URL accepted (bytes); longer: 414 without asking the origin. */
  maxUrlLength: field(() => int(256, 65536), 8192),
  /** Largest total of request header names and values (bytes); larger: 431 without asking the origin. */
  maxHeaderBytes: field(() => int(1024, 131072), 32768),
  /** Send X-Forwarded-Host / -Proto / -For to the origin (set by us, never copied from the client). */
  forwardedHeaders: field(() => z.boolean(), true),
  securityHeaders: field(securityHeadersSchema, { contentTypeOptions: false, hstsMaxAge: 0, hstsIncludeSubdomains: false }),
  /** Response headers tags are read from, in order (the origin's Cache-Tag may be stripped by Cloudflare). */
  tagHeaders: field(() => z.array(headerName()), ["Cache-Tag", "Surrogate-Key", "X-Cache-Tag"]),
  /** Debug switch: expose the cache key and tags to clients (X-Edge-Key, X-Edge-Tags). Off in production. */
  debugHeaders: field(() => z.boolean(), false),
  /** How often (ms) an isolate serving traffic re-reads the purge journal from KV: one KV read per interval. */
  tagCheckMemoMs: field(() => int(0, 60_000), 1000),
  /** Give up on the KV purge check after this long and serve the entry (logged). */
  tagCheckTimeoutMs: field(() => int(10, 10_000), 500),
  /** Path of the purge API. Reachable only when the PURGE_TOKEN secret is set. */
  purgePath: field(() => str().check(z.regex(/^\/[A-Za-z0-9._~/-]*$/)), "/__edge/purge"),
  /** Base path of the Cloudflare-shaped purge API: POST <path>/zones/<zone id>/purge_cache (a Cloudflare client's base URL). */
  cloudflareApiPath: field(() => str().check(z.regex(/^(\/[A-Za-z0-9._~-]+)+$/)), "/__edge/client/v4"),
  /** Path of the explain endpoint (GET ?url=...). Reachable only with EXPLAIN_TOKEN (or PURGE_TOKEN) set. */
  explainPath: field(() => str().check(z.regex(/^\/[A-Za-z0-9._~/-]*$/)), "/__edge/explain"),
  /** Client IPs / CIDRs allowed to call the purge API (empty: any IP with the token). */
  purgeAllowIps: field(() => z.array(str().check(z.refine(isIpOrCidr, "is not an IP address or CIDR range"))), []),
  /** Cloudflare zone id for zone purge (with the CF_API_TOKEN secret); empty: KV invalidation only. */
  zoneId: field(() => str().check(z.regex(/^[a-f0-9]{0,64}$/i)), ""),
  /** Cloudflare API base URL (tests point it at a local fake). */
  zonePurgeApi: field(() => z.url(), "https://api.cloudflare.com/client/v4"),
};

export type Parsed = { -readonly [K in keyof typeof FIELDS]: (typeof FIELDS)[K] extends Field<infer T> ? z.output<T> : never };

/** Validate the options a configuration gives, each against its own schema; the rest take their defaults. */
export function validate(raw: Record<string, unknown>): Parsed {
  if (Object.keys(raw).length) useEnglishMessages();
  const out: Record<string, unknown> = {};
  const reasons: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const f = (FIELDS as Record<string, Field<z.ZodMiniType>>)[key];
    if (!f) {
      reasons.push(`EDGE_CONFIG: Unrecognized key: "${key}"`);
      continue;
    }
    if (value === undefined) continue;
    const result = f.schema().safeParse(value);
    if (result.success) out[key] = result.data;
    else reasons.push(...result.error.issues.map((i) => `${formatPath([key, ...i.path])}: ${i.message}`));
  }
  if (reasons.length) throw new ConfigError(`invalid edge-cache configuration: ${reasons.join("; ")}`);
  const defaults = Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.fallback]));
  return { ...defaults, ...out } as Parsed;
}

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}
