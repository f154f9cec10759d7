/**
 * Cookie handling for a shared cache (pure: strings in, strings out; never throws).
 *
 * Analytics cookies are read only by browser-side scripts, so they are removed before the key is
 * computed and before the origin sees the request: they would otherwise split the cache per visitor
 * (or, unkeyed, let one visitor's cookie shape everyone's page). Session cookies mean the page may
 * be personal, so their presence bypasses the cache altogether.
 *
 * Kept cookies are forwarded byte for byte: we split on ";" and look only at the name, so a value
 * we cannot parse is never mangled.
 */

/** Does `name` match any pattern? A pattern ending in "*" matches by prefix; otherwise exactly. */
export function matchesAny(name: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p) return true;
  }
  return false;
}

export interface CookieAnalysis {
  /** The Cookie header to forward (kept pairs joined by "; "), or null when nothing remains. */
  forward: string | null;
  /** Names of the analytics cookies removed. */
  stripped: string[];
  /** Names of session cookies present (non-empty means: bypass). */
  session: string[];
}

/**
 * Split a Cookie header into pairs and sort them into stripped / kept / session.
 * Empty segments are dropped; a segment without "=" is a cookie with that name and no value
 * (what browsers send for `document.cookie = "x"`).
 */
export function analyseCookies(
  header: string | null | undefined,
  analytics: readonly string[],
  sessionNames: readonly string[],
): CookieAnalysis {
  const result: CookieAnalysis = { forward: null, stripped: [], session: [] };
  if (!header) return result;
  const kept: string[] = [];
  for (const raw of header.split(";")) {
    const pair = raw.trim();
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    if (name !== "" && matchesAny(name, analytics)) {
      result.stripped.push(name);
      continue;
    }
    if (name !== "" && matchesAny(name, sessionNames)) {
      // Django sends "sessionid=" with an empty value while deleting the cookie: not a session.
      const value = eq === -1 ? "" : pair.slice(eq + 1).trim();
      if (value !== "" && value !== '""') result.session.push(name);
    }
    kept.push(pair);
  }
  result.forward = kept.length > 0 ? kept.join("; ") : null;
  // Several Cookie fields (HTTP/2 crumbling) may arrive joined with ", ": look for session cookies
  // behind commas too, so a session can never hide inside another cookie's value.
  if (header.includes(",")) {
    for (const raw of header.split(/[;,]/)) {
      const pair = raw.trim();
      const eq = pair.indexOf("=");
      const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
      const value = eq === -1 ? "" : pair.slice(eq + 1).trim();
      if (name !== "" && value !== "" && value !== '""' && matchesAny(name, sessionNames) && !result.session.includes(name)) {
        result.session.push(name);
      }
    }
  }
  return result;
}
