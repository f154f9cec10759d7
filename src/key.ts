/**
 * The cache key, and the origin URL derived from the same parse (pure).
 *
 * One parse feeds both, so what was keyed is exactly what is fetched: parameters are sorted,
 * tracking parameters removed and the path normalised once, and the origin receives that
 * normalised form. Nothing a client can do with `;`, duplicate or encoded parameters, `//` or
 * `%2e` makes the key and the origin request disagree.
 */
import { matchesAny } from "./cookies.ts";

/** A request header that is a key dimension: keyed by its value, or folded into named classes. */
export interface HeaderDimension {
  /** Lower-case header name. */
  name: string;
  /** Classes in order: the first whose substrings (case-insensitive) occur in the value is what is keyed and sent. */
  classes?: readonly { value: string; match: readonly string[] }[];
  /** Sent (and keyed) when no class matches or the header is absent; classes only. */
  otherwise?: string;
}

export interface KeyOptions {
  cacheVersion: string;
  trackingParams: readonly string[];
  /** Supported languages, first is the default; empty: language is not a key dimension. */
  languages: readonly string[];
  /** Whether a (normalised) path is keyed by language (its rule's `language`); default: yes. */
  languageKeyed?: (path: string) => boolean;
  /** Request headers that are key dimensions (forwarded to the origin as keyed). */
  headers?: readonly HeaderDimension[];
  /** Key by device class (mobile / tablet / desktop) derived from User-Agent. */
  deviceClass?: boolean;
}

/** What, besides the URL and headers, a key is built from: the cookies the key holds. */
export interface KeyCookies {
  /** Keyed cookies present, [name, value]. */
  keyed: readonly (readonly [string, string])[];
  /** The language cookie's value (an explicit choice wins over Accept-Language). */
  language?: string | undefined;
}

/** Longest value of a keyed cookie or header; a longer one makes the request unkeyable (it bypasses). */
export const MAX_DIMENSION_VALUE = 256;

export type DeviceClass = "mobile" | "tablet" | "desktop";

export interface CacheKey {
  /** Normalised path (dot segments resolved, `//` collapsed, unreserved escapes decoded). */
  path: string;
  /** Normalised query without "?": parameters sorted by name, tracking parameters removed. */
  query: string;
  /** Tracking parameters that were removed. */
  dropped: string[];
  /** "https:" or "http:", and the lower-cased host: the public origin. */
  scheme: string;
  host: string;
  /** Folded language when languages are configured. */
  language?: string;
  /** Keyed cookies present, [name, value], sorted by name. */
  cookies: [string, string][];
  /** Keyed request headers, [lower-case name, value keyed and sent]. */
  headers: [string, string][];
  device?: DeviceClass;
  /** scheme://host/path?query: the URL identity, shared by all variants (URL purge and URL tags use it). */
  url: string;
  /** The store key: the URL plus the version and every variant dimension. */
  key: string;
  /** Why this request cannot be keyed (a keyed value too long), or undefined. */
  unkeyable?: string;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 §6.2.2: decode unreserved escapes, upper-case the rest, resolve dot segments; also collapse "//". */
export function normalisePath(pathname: string): string {
  // Without escapes, "//", backslashes or dot segments there is nothing to normalise.
  if (pathname.startsWith("/") && !/%|\/\/|\\|\/\.\.?(\/|$)/.test(pathname)) return pathname;
  let p = pathname.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  // A backslash is a path separator to the URL parser; keep it a plain (escaped) character.
  p = p.replace(/\\/g, "%5C").replace(/\/{2,}/g, "/");
  if (!p.startsWith("/")) p = `/${p}`;
  // Decoding may have produced new "." / ".." segments ("%2e%2E"): resolve them again.
  return new URL(p, "http://normalise.invalid").pathname;
}

/** Sort parameters by name (stable, so repeated names keep their order) and drop tracking ones. */
export function normaliseQuery(search: string, tracking: readonly string[]): { query: string; dropped: string[] } {
  if (search === "" || search === "?") return { query: "", dropped: [] };
  const params = new URLSearchParams(search);
  const kept: [string, string][] = [];
  const dropped: string[] = [];
  for (const [name, value] of params) {
    if (matchesAny(name.toLowerCase(), tracking)) dropped.push(name);
    else kept.push([name, value]);
  }
  kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { query: new URLSearchParams(kept).toString(), dropped };
}

/**
 * Fold an Accept-Language header to one supported language (RFC 9110 §12.5.4 quality values).
 * "fr-CA" matches "fr"; "*" or nothing supported gives the default (the first).
 */
export function foldLanguage(header: string | null, supported: readonly string[], orDefault = true): string | undefined {
  const fallback = orDefault ? supported[0] : undefined;
  if (supported.length === 0) return undefined;
  if (!header) return fallback;
  const lower = supported.map((s) => s.toLowerCase());
  let best: string | undefined;
  let bestQ = 0;
  for (const part of header.split(",").slice(0, 32)) {
    const [tagRaw, ...params] = part.trim().split(";");
    const tag = (tagRaw ?? "").trim().toLowerCase();
    if (!tag) continue;
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param);
      if (m) q = Number(m[1]);
    }
    if (q <= bestQ) continue;
    const candidate = tag === "*" ? fallback : matchLanguage(tag, lower, supported);
    if (candidate !== undefined) {
      best = candidate;
      bestQ = q;
    }
  }
  return best ?? fallback;
}

function matchLanguage(tag: string, lower: string[], supported: readonly string[]): string | undefined {
  // Exact first, then progressively shorter prefixes ("zh-hant-tw" -> "zh-hant" -> "zh").
  for (let t = tag; t; t = t.includes("-") ? t.slice(0, t.lastIndexOf("-")) : "") {
    const i = lower.indexOf(t);
    if (i !== -1) return supported[i];
  }
  return undefined;
}

/** Build the key for a request URL, its headers and the cookies the key holds. */
export function buildKey(url: URL, headers: Headers, options: KeyOptions, cookies: KeyCookies = { keyed: [] }): CacheKey {
  const path = normalisePath(url.pathname);
  const { query, dropped } = normaliseQuery(url.search, options.trackingParams);
  const host = url.host.toLowerCase();
  const origin = `${url.protocol}//${host}`;
  const q = query ? `?${query}` : "";
  const result: CacheKey = { path, query, dropped, scheme: url.protocol, host, url: `${origin}${path}${q}`, key: "", cookies: [], headers: [] };
  let dims = `v=${options.cacheVersion}`;
  if (options.languages.length > 0 && (options.languageKeyed?.(path) ?? true)) {
    // An explicit choice (the language cookie) wins over Accept-Language, as Django's LocaleMiddleware does.
    const chosen = cookies.language !== undefined ? foldLanguage(cookies.language, options.languages, false) : undefined;
    result.language = chosen ?? foldLanguage(headers.get("accept-language"), options.languages)!;
    dims += `;lang=${encodeURIComponent(result.language)}`;
  }
  const tooLong = (v: string) => v.length > MAX_DIMENSION_VALUE;
  for (const [name, value] of [...cookies.keyed].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (tooLong(value)) result.unkeyable = `cookie ${name} is over ${MAX_DIMENSION_VALUE} characters`;
    result.cookies.push([name, value]);
    dims += `;c.${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  }
  for (const dim of options.headers ?? []) {
    const value = headerDimension(dim, headers.get(dim.name));
    if (value === null) continue;
    if (tooLong(value)) result.unkeyable = `header ${dim.name} is over ${MAX_DIMENSION_VALUE} characters`;
    result.headers.push([dim.name, value]);
    dims += `;h.${dim.name}=${encodeURIComponent(value)}`;
  }
  if (options.deviceClass) {
    result.device = deviceClass(headers.get("user-agent"));
    dims += `;dev=${result.device}`;
  }
  // "/__ec/<dims>" prefixes every key; dims never contain "/", so distinct requests never share a key.
  result.key = `${origin}/__ec/${dims}${path}${q}`;
  return result;
}

/** The value a keyed header contributes: its normalised value, its class, or null when absent and unclassed. */
export function headerDimension(dim: HeaderDimension, raw: string | null): string | null {
  if (!dim.classes) return raw === null ? null : raw.trim().replace(/\s*,\s*/g, ", ").replace(/\s+/g, " ");
  const lower = (raw ?? "").toLowerCase();
  for (const c of dim.classes) if (c.match.some((m) => lower.includes(m.toLowerCase()))) return c.value;
  return dim.otherwise ?? null;
}

/** Device class from User-Agent, like CDNs' "cache by device type": tablets first, then phones, else desktop. */
export function deviceClass(userAgent: string | null): DeviceClass {
  const ua = userAgent ?? "";
  if (/iPad|Tablet|Kindle|Silk|PlayBook|Nexus (7|9|10)|Android(?!.*Mobile)/i.test(ua)) return "tablet";
  if (/Mobi|iPhone|iPod|Android|BlackBerry|IEMobile|Opera Mini|webOS|Windows Phone/i.test(ua)) return "mobile";
  return "desktop";
}

/**
 * Percent-decode until nothing changes (double, triple encoding), at most `times` rounds. Malformed
 * escapes do not stop it: the ASCII ones are decoded anyway, as lenient servers do.
 */
export function decodeRepeatedly(s: string, times = 4): string {
  let p = s;
  for (let i = 0; i < times; i++) {
    let d: string;
    try {
      d = decodeURIComponent(p);
    } catch {
      d = p.replace(/%([0-7][0-9a-f])/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (d === p) break;
    p = d;
  }
  return p;
}

/**
 * The path as an origin's router may see it, for matching bypass rules: percent-decoded
 * repeatedly (double encoding), backslashes as slashes, `;params` removed from each segment, dot
 * segments resolved. Lower-case it for routers that ignore case.
 */
export function routingPath(path: string): string {
  let p = decodeRepeatedly(path);
  p = p.replace(/\\/g, "/").replace(/\0/g, "").split("/").map((seg) => seg.split(";")[0]).join("/");
  const safe = p.replace(/%/g, "%25").replace(/\?/g, "%3F").replace(/#/g, "%23").replace(/\/{2,}/g, "/");
  try {
    return decodeURIComponent(new URL(safe.startsWith("/") ? safe : `/${safe}`, "http://routing.invalid").pathname);
  } catch {
    return p;
  }
}

/**
 * Why a normalised path is ambiguous (origins may route it elsewhere than its spelling says), or
 * null when it is canonical: encoded slashes or backslashes (WSGI servers decode %2F before
 * routing), encoded percent signs (double decoding), NUL, `;` path parameters (stripped by some
 * routers). Such requests are never stored.
 */
export function ambiguousPath(path: string): string | null {
  if (/%2f/i.test(path)) return "encoded slash";
  if (/%5c/i.test(path)) return "backslash";
  if (/%25/.test(path)) return "encoded percent sign";
  if (/%00/.test(path)) return "NUL";
  if (path.includes(";")) return "path parameter";
  return null;
}

/**
 * The store keys of every language variant of a URL, without other dimensions (one key when
 * languages are not keyed for its rule). Local invalidation reaches them directly.
 */
export function keysForUrl(url: URL, options: KeyOptions): string[] {
  const plain = { ...options, headers: [], deviceClass: false };
  const languages = options.languages.length ? options.languages : [undefined];
  return [...new Set(languages.map((lang) => buildKey(url, new Headers(lang ? { "accept-language": lang } : {}), plain).key))];
}
