/**
 * Turning a full 200 (stored, or just fetched) into what this client asked for: a 304 for a
 * matching conditional request, a 206 / 416 for a byte range, the whole thing otherwise.
 */
import { decideRange, isNotModified, notModifiedHeaders } from "./http/conditional.ts";

/** Which of the client's preconditions this answer may evaluate. */
export interface Answerable {
  /** Answer If-None-Match / If-Modified-Since with a 304 (not for responses we do not share: they keep their own headers, a Set-Cookie say). */
  conditional: boolean;
  /** Cut a Range from the body (only bounded, stored entries: a miss never buffers a large or breaking origin body; it answers 200 in full, which RFC 9110 §14.2 allows). */
  range: boolean;
}

export const STORED: Answerable = { conditional: true, range: true };
export const FRESH_FILL: Answerable = { conditional: true, range: false };
export const NOT_SHARED: Answerable = { conditional: false, range: false };

/** Apply the client's conditional and Range headers (GET/HEAD on a 200 only). */
export async function answerRequest(request: Request, res: Response, may: Answerable = STORED): Promise<Response> {
  if (res.status !== 200 || (request.method !== "GET" && request.method !== "HEAD")) return res;
  if (may.conditional && isNotModified(request.headers, res.headers)) {
    await res.body?.cancel();
    return new Response(null, { status: 304, headers: notModifiedHeaders(res.headers) });
  }
  if (!may.range || request.method !== "GET" || !request.headers.has("range")) {
    // Responses we built have mutable headers (no copy on the common path); fetched ones do not.
    try {
      res.headers.set("accept-ranges", "bytes");
      return res;
    } catch {
      const headers = new Headers(res.headers);
      headers.set("accept-ranges", "bytes");
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    }
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  const decision = decideRange(request.headers, res.headers, bytes.byteLength);
  const headers = new Headers(res.headers);
  headers.set("accept-ranges", "bytes");
  if (decision.kind === "unsatisfiable") {
    // RFC 9110 §15.5.17: 416 with "Content-Range: bytes */<length>".
    headers.set("content-range", `bytes */${bytes.byteLength}`);
    headers.delete("content-length");
    return new Response(null, { status: 416, headers });
  }
  if (decision.kind === "partial") {
    // RFC 9110 §15.3.7: 206 with Content-Range for the single part sent.
    const part = bytes.slice(decision.start, decision.end + 1);
    headers.set("content-range", `bytes ${decision.start}-${decision.end}/${bytes.byteLength}`);
    headers.set("content-length", String(part.byteLength));
    return new Response(part, { status: 206, headers });
  }
  return new Response(bytes, { status: 200, statusText: res.statusText, headers });
}
