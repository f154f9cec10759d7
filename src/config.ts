/**
 * Configuration: parsed and validated once per isolate from wrangler vars, never per request.
 *
 * Sources (later wins):
 *   1. the defaults below, which reproduce the documented policy;
 *   2. `EDGE_CONFIG`: a JSON object (a string, or a TOML table under `[vars.EDGE_CONFIG]`);
 *   3. simple vars for the things people change most: `ORIGIN_URL`, `CACHE_VERSION`.
 *
 * An invalid configuration throws {@link ConfigError} naming the offending field, so a
 * deploy (which evaluates the module) or `wrangler dev` fails loudly instead of every
 * request answering a mysterious 500.
 */
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { parseCacheControl } from "./http/cache-control.ts";

/** Thrown when the configuration is invalid; `message` names the field and the reason. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** KV keys are at most 512 bytes; our tag keys add a prefix, so tags are capped below that. */
export const MAX_PATH_PATTERN = 512;

const pathPattern = z
  .string()
  .max(MAX_PATH_PATTERN)
  .refine((p) => p === "*" || p.startsWith("/"), "must be \"*\" or start with \"/\"")
  .refine((p) => !p.slice(0, -1).includes("*"), "\"*\" is only allowed at the end");

const cacheControlString = z.string().refine(
  (v) => parseCacheControl(v).size > 0,
  "is not a Cache-Control value",
);

const ruleSchema = z
  .object({
    /** Shown in Cache-Status, logs and the explain endpoint. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, "must be a simple identifier"),
    /** Path patterns: exact ("/health"), prefix ("/static/*") or everything ("*"). */
    paths: z.array(pathPattern).min(1),
    /** Never cache: forward to the origin and never store (admin, health checks). */
    bypass: z.boolean().default(false),
    /** Cache-Control applied to the response: browsers read max-age, the edge reads s-maxage then max-age. */
    cacheControl: cacheControlString.optional(),
    /**
     * "fill": apply `cacheControl` only when the origin sent no caching headers (no Cache-Control, no Expires).
     * "override": apply it whatever the origin said, except that private / no-store / Set-Cookie are never
     * turned into a shared entry.
     */
    mode: z.enum(["fill", "override"]).default("fill"),
    /**
     * When set, a response is stored only if its Content-Type matches one of these ("image/*" allowed),
     * so a dynamic page answering under /static/ is never stored as a static asset.
     */
    contentTypes: z.array(z.string().regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/i)).optional(),
    /** Tags added to every entry this rule stores (purge them all at once). */
    tags: z.array(z.string()).default([]),
    /** Key entries by the folded language (when `languages` is set). Off for assets that never vary by language. */
    language: z.boolean().default(true),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (!rule.bypass && rule.cacheControl === undefined) {
      ctx.addIssue({ code: "custom", message: "needs cacheControl unless bypass is true", path: ["cacheControl"] });
    }
    if (rule.cacheControl !== undefined) {
      const cc = parseCacheControl(rule.cacheControl);
      if (!rule.bypass && !cc.has("max-age") && !cc.has("s-maxage")) {
        ctx.addIssue({ code: "custom", message: "needs max-age or s-maxage", path: ["cacheControl"] });
      }
    }
  });

export type Rule = z.infer<typeof ruleSchema>;

const STATIC_TYPES = [
  "text/css", "text/javascript", "application/javascript", "application/json", "application/manifest+json",
  "application/wasm", "application/pdf", "application/octet-stream", "text/plain", "image/*", "font/*",
  "application/font-woff", "application/font-woff2", "application/x-font-ttf", "audio/*", "video/*",
];

/** The documented default policy (README: "Default policy"). */
export const DEFAULT_RULES: Rule[] = [
  { name: "admin", paths: ["/admin", "/admin/*"], bypass: true, mode: "fill", tags: [], language: true },
  { name: "health", paths: ["/health", "/health/", "/healthz"], bypass: true, mode: "fill", tags: [], language: true },
  {
    name: "static", paths: ["/static/*"], cacheControl: "public, max-age=31536000, immutable",
    mode: "fill", contentTypes: STATIC_TYPES, tags: ["static-assets"], bypass: false, language: false,
  },
  {
    name: "media", paths: ["/media/*"], cacheControl: "public, max-age=86400",
    mode: "fill", contentTypes: STATIC_TYPES, tags: ["media"], bypass: false, language: false,
  },
  { name: "api", paths: ["/api/*"], cacheControl: "public, max-age=300, s-maxage=600", mode: "fill", tags: ["api"], bypass: false, language: true },
  { name: "html", paths: ["*"], cacheControl: "public, max-age=300, s-maxage=1800", mode: "fill", tags: [], bypass: false, language: true },
];

/** Cookie name patterns ("_ga_*" matches by prefix), compared case-sensitively as browsers do. */
export const DEFAULT_ANALYTICS_COOKIES = [
  "_ga", "_ga_*", "_gid", "_gat", "_gat_*", "__utma", "__utmb", "__utmc", "__utmt", "__utmv", "__utmz", "__utm*",
  "_fbp", "_fbc", "_gcl_*", "_hjid", "_hj*", "_uetsid", "_uetvid", "_clck", "_clsk", "ajs_anonymous_id",
];

/** Query parameter name patterns dropped from the key and from the origin request (case-insensitive). */
export const DEFAULT_TRACKING_PARAMS = [
  "utm_*", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "mc_cid", "mc_eid",
  "_ga", "_gl", "yclid", "igshid", "twclid", "ttclid", "li_fat_id",
];

/** Headers clients use to make an origin build a different page than the URL says (cache poisoning). */
export const POISONING_HEADERS = [
  "X-Forwarded-Host", "X-Forwarded-Server", "X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix",
  "X-Forwarded-Proto", "X-Forwarded-For", "Forwarded", "X-Host", "X-Original-Host", "X-Original-URL",
  "X-Rewrite-URL", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Real-IP",
  "True-Client-IP", "X-Client-IP", "X-Cluster-Client-IP", "X-ProxyUser-Ip", "Proxy",
];

/** Client headers cacheable requests forward by default (see `forwardHeaders`). */
export const FORWARDED_BY_DEFAULT = [
  "Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Cookie", "Authorization",
  "CF-Connecting-IP", "CF-Ray", "CF-Visitor", "X-Request-ID", "Traceparent", "Tracestate",
];

const securityHeadersSchema = z
  .object({
    contentTypeOptions: z.boolean().default(false),
    frameOptions: z.enum(["DENY", "SAMEORIGIN"]).optional(),
    /** Strict-Transport-Security max-age in seconds; 0 or absent sends nothing. */
    hstsMaxAge: z.number().int().min(0).max(63072000).default(0),
    hstsIncludeSubdomains: z.boolean().default(false),
  })
  .strict();

const configSchema = z
  .object({
    /** Origin base URL ("https://origin.example.com"); empty means "fetch the request's own URL" (route mode). */
    originUrl: z.string().default(""),
    /**
     * Origins in order of preference (primary first); a failing one is skipped for `originCooldownMs`.
     * `originUrl` / ORIGIN_URL (comma-separated allowed) fill this in when it is empty.
     */
    origins: z.array(z.string()).default([]),
    /** How long an origin that failed stays out of rotation. */
    originCooldownMs: z.number().int().min(0).max(600_000).default(30_000),
    /** Default stale-if-error window (s) for entries whose origin did not set one and did not forbid it. */
    staleIfError: z.number().int().min(0).max(7 * 86400).default(86400),
    /** Default stale-while-revalidate window (s), likewise. */
    staleWhileRevalidate: z.number().int().min(0).max(86400).default(0),
    /** Let clients' `Cache-Control: no-cache` / `Pragma: no-cache` skip the cached copy (off: a DoS lever). */
    honorClientNoCache: z.boolean().default(false),
    /** Abort an origin request after this long; with nothing stale to serve the client gets a 504. */
    originTimeoutMs: z.number().int().min(100).max(120_000).default(15_000),
    /** Part of every key: bump it on deploy to start from an empty cache. */
    cacheVersion: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9._-]").default("1"),
    /** Name passed to caches.open(). */
    cacheName: z.string().min(1).max(64).default("edge-cache"),
    /**
     * Path rules, merged into the defaults by name: a rule named like a default ("html", "static",
     * "admin", ...) replaces it in place; rules with new names come right after the admin/health
     * bypasses, in the order given.
     * With `replaceRules: true` the list is taken as the whole policy instead.
     */
    rules: z.array(ruleSchema).default([]),
    replaceRules: z.boolean().default(false),
    analyticsCookies: z.array(z.string().min(1)).default(DEFAULT_ANALYTICS_COOKIES),
    /** Extra analytics cookie patterns, added to the defaults rather than replacing them. */
    extraAnalyticsCookies: z.array(z.string().min(1)).default([]),
    /** A request carrying any of these cookies bypasses the cache (Django: sessionid). */
    sessionCookies: z.array(z.string().min(1)).min(1).default(["sessionid"]),
    trackingParams: z.array(z.string().min(1)).default(DEFAULT_TRACKING_PARAMS),
    extraTrackingParams: z.array(z.string().min(1)).default([]),
    /**
     * Supported languages, first is the default. When set, Accept-Language is folded to one of
     * these, keyed, and forwarded to the origin in that folded form. Empty: language is not keyed.
     */
    languages: z.array(z.string().regex(/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i)).default([]),
    /** Edge TTL for 404 / 410 (negative caching); the origin can shorten it, never lengthen it. */
    negativeTtl: z.number().int().min(0).max(3600).default(60),
    /**
     * Largest body stored (bytes). Bodies are read whole before they are stored, so that a
     * truncated one never is; larger responses are served but not cached.
     */
    maxEntryBytes: z.number().int().min(1024).max(512 * 1024 * 1024).default(16 * 1024 * 1024),
    /**
     * In-isolate memory tier in front of the Cache API: how long an object is held (ms; 0 turns it
     * off) and how many bytes in all. Purges stay exact (checked on every hit); a local invalidation
     * made by another isolate reaches this one's copy within memoryCacheMs.
     */
    memoryCacheMs: z.number().int().min(0).max(60_000).default(1000),
    memoryCacheBytes: z.number().int().min(0).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
    /** Allow `?nocache` to bypass the cache. Off: a public bypass switch is a denial-of-service lever. */
    allowNocacheParam: z.boolean().default(false),
    /**
     * Request headers never forwarded to the origin: they are not part of the key, and origins
     * (Django's USE_X_FORWARDED_HOST, IIS/Symfony URL rewriting, method overrides) act on them,
     * which is how caches get poisoned. Added to the built-in hop-by-hop list.
     */
    stripRequestHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(POISONING_HEADERS),
    /**
     * Cacheable requests carry only these client headers to the origin (plus the Cookie left after
     * stripping, the folded Accept-Language and our X-Forwarded-*): a header the key does not hold
     * cannot shape a page stored for everyone. Add a header here when your origin varies on it
     * (and says so with Vary). Bypassed requests carry everything but `stripRequestHeaders`.
     */
    forwardHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(FORWARDED_BY_DEFAULT),
    /** Longest request URL accepted (bytes); longer: 414 without asking the origin. */
    maxUrlLength: z.number().int().min(256).max(65536).default(8192),
    /** Largest total of request header names and values (bytes); larger: 431 without asking the origin. */
    maxHeaderBytes: z.number().int().min(1024).max(131072).default(32768),
    /** Send X-Forwarded-Host / -Proto / -For to the origin (set by us, never copied from the client). */
    forwardedHeaders: z.boolean().default(true),
    securityHeaders: securityHeadersSchema.default({ contentTypeOptions: false, hstsMaxAge: 0, hstsIncludeSubdomains: false }),
    /** Response headers tags are read from, in order (the origin's Cache-Tag may be stripped by Cloudflare). */
    tagHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(["Cache-Tag", "Surrogate-Key", "X-Cache-Tag"]),
    /** Debug switch: expose the cache key and tags to clients (X-Edge-Key, X-Edge-Tags). Off in production. */
    debugHeaders: z.boolean().default(false),
    /** How long an isolate trusts a tag timestamp it read from KV before reading it again. */
    tagCheckMemoMs: z.number().int().min(0).max(60_000).default(1000),
    /** Give up on the KV purge check after this long and serve the entry (logged): KV trouble must not take the site down. */
    tagCheckTimeoutMs: z.number().int().min(10).max(10_000).default(500),
    /** Path of the purge API. Reachable only when the PURGE_TOKEN secret is set. */
    purgePath: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/).default("/__edge/purge"),
    /** Path of the explain endpoint (GET ?url=...). Reachable only with EXPLAIN_TOKEN (or PURGE_TOKEN) set. */
    explainPath: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/).default("/__edge/explain"),
    /** Client IPs / CIDRs allowed to call the purge API (empty: any IP with the token). */
    purgeAllowIps: z.array(z.string().refine(isIpOrCidr, "is not an IP address or CIDR range")).default([]),
    /** Cloudflare zone id for zone purge (with the CF_API_TOKEN secret); empty: KV invalidation only. */
    zoneId: z.string().regex(/^[a-f0-9]{0,64}$/i).default(""),
    /** Cloudflare API base URL (tests point it at a local fake). */
    zonePurgeApi: z.string().url().default("https://api.cloudflare.com/client/v4"),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type SecurityHeaders = Config["securityHeaders"];

/** The wrangler vars and secrets the config is read from (bindings live in Env). */
export interface ConfigVars {
  EDGE_CONFIG?: unknown;
  ORIGIN_URL?: string;
  CACHE_VERSION?: string;
  CF_ZONE_ID?: string;
}

/** Parse and validate; throws ConfigError with every problem named ("rules[2].cacheControl: ..."). */
export function parseConfig(vars: ConfigVars): Config {
  let raw: Record<string, unknown> = {};
  if (vars.EDGE_CONFIG !== undefined && vars.EDGE_CONFIG !== "") {
    if (typeof vars.EDGE_CONFIG === "string") {
      try {
        raw = JSON.parse(vars.EDGE_CONFIG) as Record<string, unknown>;
      } catch (e) {
        throw new ConfigError(`EDGE_CONFIG is not valid JSON: ${(e as Error).message}`);
      }
    } else {
      raw = vars.EDGE_CONFIG as Record<string, unknown>;
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ConfigError("EDGE_CONFIG must be a JSON object");
    }
  }
  const merged: Record<string, unknown> = { ...raw };
  if (vars.ORIGIN_URL) merged.originUrl = vars.ORIGIN_URL;
  if (vars.CACHE_VERSION) merged.cacheVersion = vars.CACHE_VERSION;
  if (vars.CF_ZONE_ID) merged.zoneId = vars.CF_ZONE_ID;

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const reasons = result.error.issues.map((i) => `${formatPath(i.path) || "EDGE_CONFIG"}: ${i.message}`);
    throw new ConfigError(`invalid edge-cache configuration: ${reasons.join("; ")}`);
  }
  const config = result.data;
  if (config.origins.length === 0 && config.originUrl !== "") {
    config.origins = config.originUrl.split(",").map((u) => u.trim()).filter(Boolean);
  }
  config.origins.forEach((origin, i) => {
    const field = `origins[${i}]`;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`invalid edge-cache configuration: ${field}: "${origin}" is not a URL (originUrl / ORIGIN_URL)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ConfigError(`invalid edge-cache configuration: ${field}: must be http or https (originUrl / ORIGIN_URL)`);
    }
    if (url.search || url.hash) {
      throw new ConfigError(`invalid edge-cache configuration: ${field}: must not have a query or fragment`);
    }
  });
  const names = new Set<string>();
  for (const rule of config.rules) {
    const name = rule.name.toLowerCase();
    if (names.has(name)) throw new ConfigError(`invalid edge-cache configuration: rules: duplicate rule name "${rule.name}"`);
    names.add(name);
  }
  if (config.replaceRules) {
    if (config.rules.length === 0) throw new ConfigError("invalid edge-cache configuration: rules: replaceRules needs at least one rule");
  } else {
    config.rules = mergeRules(DEFAULT_RULES, config.rules);
  }
  return config;
}

/**
 * Rules merged by name (case-insensitively) into `base`: a rule named like a default replaces it in
 * place; new rules go right after the leading bypass rules (admin, health), in the order given. So
 * the bypasses keep precedence (a new "*" rule cannot make /admin/ cacheable), and a user's rule
 * (say a bypass for /media/private/) is never shadowed by a broader default.
 */
export function mergeRules(base: readonly Rule[], extra: readonly Rule[]): Rule[] {
  const out = [...base];
  const added: Rule[] = [];
  for (const rule of extra) {
    const same = out.findIndex((r) => r.name.toLowerCase() === rule.name.toLowerCase());
    if (same !== -1) out[same] = rule;
    else added.push(rule);
  }
  let bypasses = 0;
  while (bypasses < out.length && out[bypasses]!.bypass) bypasses++;
  return [...out.slice(0, bypasses), ...added, ...out.slice(bypasses)];
}

function isIpOrCidr(value: string): boolean {
  return ipaddr.isValid(value) || (value.includes("/") && isCidr(value));
}

function isCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}
