/**
 * Cookie handling for a shared cache (pure: strings in, strings out; never throws).
 *
 * Analytics cookies are read only by browser-side scripts: they are removed before the origin
 * sees any request. Session cookies mean the page may be personal: their presence bypasses the
 * cache. On a cacheable request the origin receives only the cookies the key holds (`keyCookies`
 * and the language cookie, folded into the language); every other cookie is dropped there.
 *
 * A header a server-side parser could read differently from us (control characters, names that
 * are not tokens, a keyed or session cookie given twice) is "ambiguous": such a request bypasses the
 * cache, so no reading of it can shape a stored page. Django's parser, for one, strips Python
 * whitespace (\x1c-\x1f, \x85, \xa0 ...) around names, so `\x1fsessionid=...` is a session to it.
 */

/** Does `name` match any pattern? A pattern ending in "*" matches by prefix; otherwise exactly. */
export function matchesAny(name: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p) return true;
  }
  return false;
}

export interface CookieRules {
  analytics: readonly string[];
  session: readonly string[];
  /** Cookie names whose values are key dimensions (and the only cookies a cacheable request forwards). */
  keyed?: readonly string[];
  /** The cookie holding an explicit language choice (Django: django_language); "" for none. */
  language?: string;
}

export interface CookieAnalysis {
  /** The Cookie header a bypassed request forwards (kept pairs joined by "; "), or null when nothing remains. */
  forward: string | null;
  /** Names of the analytics cookies removed. */
  stripped: string[];
  /** Names of session cookies present (non-empty means: bypass). */
  session: string[];
  /** Keyed cookies present, [name, value], in the order of `keyed`. */
  keyed: [string, string][];
  /** The language cookie's value, when present. */
  language?: string;
  /** Why the header is ambiguous to a server-side parser, or null. */
  ambiguous: string | null;
}

/** RFC 9110 §5.6.2 token characters: what a cookie name may be made of (RFC 6265 §4.1.1). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters other than tab, anywhere in the header. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Split a Cookie header into pairs and sort them into stripped / kept / session / keyed.
 * Empty segments are dropped; a segment without "=" is a cookie with that name and no value.
 */
export function analyseCookies(header: string | null | undefined, rules: CookieRules): CookieAnalysis {
  const result: CookieAnalysis = { forward: null, stripped: [], session: [], keyed: [], ambiguous: null };
  if (!header) return result;
  if (CONTROL.test(header)) result.ambiguous = "control character in Cookie";
  const kept: string[] = [];
  const seen = new Set<string>();
  for (const raw of header.split(";")) {
    const pair = raw.trim();
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    const value = eq === -1 ? "" : pair.slice(eq + 1).trim();
    // A segment without "=" has no name to Django (it is a value under ""); a pair's name must be a token.
    if (eq !== -1 && !TOKEN.test(name)) result.ambiguous ??= "cookie name is not a token";
    if (name !== "" && matchesAny(name, rules.analytics)) {
      result.stripped.push(name);
      continue;
    }
    kept.push(pair);
    const counts = matchesAny(name, rules.session) || rules.keyed?.includes(name) || name === rules.language;
    if (counts && seen.has(name)) result.ambiguous ??= `cookie ${name} given twice`;
    seen.add(name);
    // Django sends "sessionid=" with an empty value while deleting the cookie: not a session.
    if (name !== "" && matchesAny(name, rules.session) && value !== "" && value !== '""') result.session.push(name);
    if (name !== "" && name === rules.language) result.language = value;
  }
  result.forward = kept.length > 0 ? kept.join("; ") : null;
  for (const name of rules.keyed ?? []) {
    const pair = kept.find((p) => p.slice(0, p.indexOf("=") === -1 ? p.length : p.indexOf("=")).trim() === name);
    if (pair !== undefined) result.keyed.push([name, pair.includes("=") ? pair.slice(pair.indexOf("=") + 1).trim() : ""]);
  }
  // Several Cookie fields (HTTP/2 crumbling) may arrive joined with ", ": look for session cookies
  // behind commas too, so a session can never hide inside another cookie's value.
  if (header.includes(",")) {
    for (const raw of header.split(/[;,]/)) {
      const pair = raw.trim();
      const eq = pair.indexOf("=");
      const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
      const value = eq === -1 ? "" : pair.slice(eq + 1).trim();
      if (name !== "" && value !== "" && value !== '""' && matchesAny(name, rules.session) && !result.session.includes(name)) {
        result.session.push(name);
      }
    }
  }
  return result;
}
