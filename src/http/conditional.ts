/**
 * Answering clients' conditional and range requests from a stored (or freshly fetched) full
 * response (pure). The origin is always asked for the full, unconditional representation on
 * cacheable requests, so these are evaluated by us, against what we hold.
 */
import { parseHttpDate } from "./date.ts";

/** RFC 9110 §8.8.3.2 weak comparison: opaque-tags equal, ignoring the W/ prefix. */
function weakEqual(a: string, b: string): boolean {
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  return strip(a) === strip(b);
}

/** Entity tags in an If-None-Match / If-Match list ("*" kept as is). */
function etagList(value: string): string[] {
  return value.match(/(?:W\/)?"[^"]*"|\*/g) ?? [];
}

/**
 * RFC 9110 §13.2.2: for GET/HEAD, If-None-Match is evaluated first; "the origin server MUST NOT
 * perform the requested method if the condition evaluates to false" — i.e. answer 304. If-Modified-
 * Since is considered only without If-None-Match (§13.1.3), and only against a Last-Modified.
 */
export function isNotModified(request: Headers, response: Headers): boolean {
  const inm = request.get("if-none-match");
  if (inm !== null) {
    const etag = response.get("etag");
    if (etag === null) return false;
    return etagList(inm).some((t) => t === "*" || weakEqual(t, etag));
  }
  const ims = request.get("if-modified-since");
  const lastModified = response.get("last-modified");
  if (ims === null || lastModified === null) return false;
  // RFC 9110 §13.1.3: a recipient MUST ignore If-Modified-Since if the field value is not a valid HTTP-date.
  const since = parseHttpDate(ims);
  const modified = parseHttpDate(lastModified);
  if (since === null || modified === null) return false;
  return modified <= since;
}

/** RFC 9110 §15.4.5: a 304 carries the fields a 200 would have had among these, and no body. */
const NOT_MODIFIED_FIELDS = ["cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified", "age"];

export function notModifiedHeaders(from: Headers): Headers {
  const out = new Headers();
  for (const name of NOT_MODIFIED_FIELDS) {
    const v = from.get(name);
    if (v !== null) out.set(name, v);
  }
  return out;
}

export type RangeDecision =
  | { kind: "full" }
  | { kind: "partial"; start: number; end: number }
  | { kind: "unsatisfiable" };

/**
 * RFC 9110 §14: one byte range of a representation of `size` bytes. Multiple ranges, other units,
 * malformed values or a failed If-Range give the full representation (a server "MAY ignore" Range).
 */
export function decideRange(request: Headers, response: Headers, size: number): RangeDecision {
  const range = request.get("range");
  if (range === null) return { kind: "full" };
  // RFC 9110 §13.1.5: If-Range with a strong ETag or a date that does not match -> send it all.
  const ifRange = request.get("if-range");
  if (ifRange !== null) {
    const etag = response.get("etag");
    if (ifRange.startsWith('"') || ifRange.startsWith("W/")) {
      if (etag === null || etag.startsWith("W/") || ifRange.startsWith("W/") || ifRange !== etag) return { kind: "full" };
    } else if (ifRange !== response.get("last-modified")) {
      return { kind: "full" };
    }
  }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (!m || (m[1] === "" && m[2] === "")) return { kind: "full" };
  let start: number;
  let end: number;
  if (m[1] === "") {
    // Suffix range: the last N bytes.
    const n = Number(m[2]);
    if (n === 0) return { kind: "unsatisfiable" };
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return { kind: "full" };
  }
  if (start >= size || size === 0) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end };
}
