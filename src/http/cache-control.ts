/**
 * The one Cache-Control parser (RFC 9111 §5.2). Pure; never throws.
 *
 * Directive names are case-insensitive (§5.2: "Cache directives are identified by a token, to be
 * compared case-insensitively"); values may be tokens or quoted strings. When a directive appears
 * twice the first occurrence is used (§4.2.1: "either the first occurrence should be used or the
 * response should be considered stale").
 */
export type CacheControl = Map<string, string | true>;

/** RFC 9111 §1.2.2: a delta-seconds value too large to represent is treated as 2^31. */
export const DELTA_SECONDS_MAX = 2147483648;

/** Parse a Cache-Control header value (null-safe). Unknown directives are kept, malformed bits skipped. */
export function parseCacheControl(value: string | null | undefined): CacheControl {
  const out: CacheControl = new Map();
  if (!value) return out;
  let i = 0;
  const n = value.length;
  while (i < n) {
    while (i < n && (value[i] === "," || value[i] === " " || value[i] === "\t")) i++;
    let nameEnd = i;
    while (nameEnd < n && value[nameEnd] !== "=" && value[nameEnd] !== ",") nameEnd++;
    const name = value.slice(i, nameEnd).trim().toLowerCase();
    i = nameEnd;
    let arg: string | true = true;
    if (i < n && value[i] === "=") {
      i++;
      while (i < n && (value[i] === " " || value[i] === "\t")) i++;
      if (value[i] === '"') {
        let s = "";
        i++;
        while (i < n && value[i] !== '"') {
          if (value[i] === "\\" && i + 1 < n) i++;
          s += value[i];
          i++;
        }
        i++; // closing quote (or end)
        arg = s;
        while (i < n && value[i] !== ",") i++;
      } else {
        let end = i;
        while (end < n && value[end] !== ",") end++;
        arg = value.slice(i, end).trim();
        i = end;
      }
    }
    if (name && /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name) && !out.has(name)) out.set(name, arg);
  }
  return out;
}

/**
 * A delta-seconds directive (max-age, s-maxage, stale-while-revalidate...) as a number.
 * Absent: undefined. Present but malformed ("max-age", "max-age=soon"): 0, so a response we
 * cannot read is treated as stale rather than fresh for longer than its author meant.
 */
export function deltaSeconds(cc: CacheControl, name: string): number | undefined {
  const v = cc.get(name);
  if (v === undefined) return undefined;
  if (v === true || !/^\d+$/.test(v)) return 0;
  const num = Number(v);
  return num > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : num;
}

/** Serialise back to a header value (directives in insertion order). */
export function formatCacheControl(cc: CacheControl): string {
  const parts: string[] = [];
  for (const [name, arg] of cc) {
    if (arg === true) parts.push(name);
    else parts.push(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(arg) ? `${name}=${arg}` : `${name}="${arg.replace(/["\\]/g, "\\$&")}"`);
  }
  return parts.join(", ");
}
