/**
 * The documented defaults (README: "Default policy", "Configuration"), as data. Pure: no imports.
 * config.ts validates user settings against these and merges them in.
 */

/** A path rule as the configuration states it (see config.ts for validation and meaning). */
export interface RuleInput {
  name: string;
  paths: string[];
  bypass: boolean;
  cacheControl?: string | undefined;
  mode: "fill" | "override";
  contentTypes?: string[] | undefined;
  tags: string[];
  language: boolean;
  esi?: boolean | undefined;
}

/**
 * Media types the static and media rules store. Not JSON, not plain text: a dynamic view reached
 * under /static/ must not become a year-long "asset"; add them to a rule's `contentTypes` to opt in.
 */
export const STATIC_TYPES = [
  "text/css", "text/javascript", "application/javascript", "application/manifest+json",
  "application/wasm", "application/pdf", "application/octet-stream", "image/*", "font/*",
  "application/font-woff", "application/font-woff2", "application/x-font-ttf", "audio/*", "video/*",
];

/** The documented default policy (README: "Default policy"). */
export const DEFAULT_RULES: RuleInput[] = [
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

/**
 * Client headers cacheable requests used to forward by default (before version 2). Listed in
 * `forwardHeaders` they are ignored: each now has its own mechanism (languages, keyCookies, the
 * fixed User-Agent and Accept, a generated request id) or is never sent on a cacheable request.
 */
export const FORWARDED_BY_DEFAULT = [
  "Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Cookie", "Authorization",
  "CF-Connecting-IP", "CF-Ray", "CF-Visitor", "X-Request-ID", "Traceparent", "Tracestate",
];
