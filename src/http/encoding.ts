/**
 * Content codings (pure). `fetch()` decodes gzip and br bodies as they are read but keeps the
 * `Content-Encoding` header and the coded `Content-Length` (workers/runtime-apis/fetch); a Response
 * that names a coding is encoded again by the runtime when sent or put in the Cache API. So the
 * cache holds one representation: identity bytes without `Content-Encoding`, and Cloudflare
 * compresses per client on the way out. Codings the runtime does not decode (deflate, zstd,
 * lists) would be stored coded under a header the runtime might act on: those are not stored.
 */

/** Codings the runtime decodes for us (exact names: "gzip", and "br" with brotli_content_encoding). */
const DECODED = new Set(["gzip", "br"]);

/** "identity" (nothing to do), "decoded" (the runtime decoded it) or "opaque" (left coded: not storable). */
export function codingOf(headers: Headers): "identity" | "decoded" | "opaque" {
  const coding = headers.get("content-encoding")?.trim().toLowerCase();
  if (!coding || coding === "identity") return "identity";
  return DECODED.has(coding) ? "decoded" : "opaque";
}

/**
 * The headers of the decoded representation: no Content-Encoding, no (coded) Content-Length, and a
 * strong ETag made weak, since it named the coded bytes (RFC 9110 §8.8.3: a strong validator
 * changes with the content coding). Revalidation still works: If-None-Match compares weakly.
 */
export function identityHeaders(from: Headers): Headers {
  const h = new Headers(from);
  h.delete("content-encoding");
  h.delete("content-length");
  const etag = h.get("etag");
  if (etag && !etag.startsWith("W/")) h.set("etag", `W/${etag}`);
  return h;
}
