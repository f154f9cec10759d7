/**
 * Vary (pure): the Cache API ignores Vary (except Accept-Encoding), so a response that varies on
 * request headers is stored under a variant key made from those headers' values, as the origin
 * received them. RFC 9111 §4.1: a stored response is reused only when "the values of the header
 * fields nominated by Vary ... match" those in the new request, after normalisation.
 */
import { hashHex } from "./tags.ts";

/** More Vary fields than this and the response is not stored (each adds key cardinality). */
export const MAX_VARY_FIELDS = 8;

/** RFC 9111 §4.1 allows normalising values before matching; these are the ones we know. */
function normalise(name: string, value: string | null): string {
  if (value === null) return "";
  if (name === "accept-encoding") {
    // The representation differs only by coding: bucket by what we can serve.
    const v = value.toLowerCase();
    return v.includes("br") ? "br" : v.includes("gzip") ? "gzip" : "identity";
  }
  return value.trim().replace(/\s+/g, " ");
}

/** Hash of the nominated header values in `headers` (the request as sent to the origin). */
export async function varyHash(names: readonly string[], headers: Headers): Promise<string> {
  const parts = [...names].sort().map((n) => `${n}:${normalise(n, headers.get(n))}`);
  return hashHex(parts.join("\n"));
}
