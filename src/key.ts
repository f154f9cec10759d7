/**
 * The cache key, and the origin URL derived from the same parse (pure).
 *
 * One parse feeds both, so what was keyed is exactly what is fetched: parameters are sorted,
 * tracking parameters removed and the path normalised once, and the origin receives that
 * normalised form. Nothing a client can do with `;`, duplicate or encoded parameters, `//` or
 * `%2e` makes the key and the origin request disagree.
 */
import { matchesAny } from "./cookies.ts";

export interface KeyOptions {
  cacheVersion: string;
  trackingParams: readonly string[];
  /** Supported languages, first is the default; empty: language is not a key dimension. */
  languages: readonly string[];
  /** Whether a (normalised) path is keyed by language (its rule's `language`); default: yes. */
  languageKeyed?: (path: string) => boolean;
}

export interface CacheKey {
  /** Normalised path (dot segments resolved, `//` collapsed, unreserved escapes decoded). */
  path: string;
  /** Normalised query without "?": parameters sorted by name, tracking parameters removed. */
  query: string;
  /** Tracking parameters that were removed. */
  dropped: string[];
  /** Folded language when languages are configured. */
  language?: string;
  /** scheme://host/path?query: the URL identity, shared by all variants (URL purge and URL tags use it). */
  url: string;
  /** The Cache API key: the URL plus the version and variant dimensions. */
  key: string;
  /** `key` split where a Vary dimension is inserted: key = prefix + rest. */
  prefix: string;
  rest: string;
}

/** The key of one Vary variant of `k` (the hash of the varying request header values). */
export function variantKey(k: CacheKey, varyHash: string): string {
  return `${k.prefix};vary=${varyHash}${k.rest}`;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 §6.2.2: decode unreserved escapes, upper-case the rest, resolve dot segments; also collapse "//". */
export function normalisePath(pathname: string): string {
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
export function foldLanguage(header: string | null, supported: readonly string[]): string | undefined {
  const fallback = supported[0];
  if (fallback === undefined) return undefined;
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

/** Build the key for a request URL and its (already cookie-stripped) headers. */
export function buildKey(url: URL, headers: Headers, options: KeyOptions): CacheKey {
  const path = normalisePath(url.pathname);
  const { query, dropped } = normaliseQuery(url.search, options.trackingParams);
  const keyed = options.languages.length > 0 && (options.languageKeyed?.(path) ?? true);
  const language = keyed ? foldLanguage(headers.get("accept-language"), options.languages) : undefined;
  const origin = `${url.protocol}//${url.host.toLowerCase()}`;
  const q = query ? `?${query}` : "";
  let dims = `v=${options.cacheVersion}`;
  if (language !== undefined) dims += `;lang=${encodeURIComponent(language)}`;
  // "/__ec/<dims>" prefixes every key; dims never contain "/", so distinct requests never share a key.
  const prefix = `${origin}/__ec/${dims}`;
  const rest = `${path}${q}`;
  const result: CacheKey = { path, query, dropped, url: `${origin}${rest}`, key: prefix + rest, prefix, rest };
  if (language !== undefined) result.language = language;
  return result;
}

/**
 * The Cache API keys of every language variant of a URL (one key when languages are not keyed for
 * its rule). Purges and invalidations reach all of them.
 */
export function keysForUrl(url: URL, options: KeyOptions): string[] {
  const languages = options.languages.length ? options.languages : [undefined];
  return [...new Set(languages.map((lang) => buildKey(url, new Headers(lang ? { "accept-language": lang } : {}), options).key))];
}
