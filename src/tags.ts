/**
 * Cache tags (pure): read them from the origin's headers, validate them, and derive the tags
 * every entry carries so that URL, prefix, host and purge-everything all work through tags.
 *
 * Tag rules follow Cloudflare's (shared/PLATFORM.md): printable ASCII without spaces, at most
 * 1,024 characters each and 16 KB in all per response, compared case-insensitively.
 */

/** Longest tag accepted (Cloudflare's limit). */
export const MAX_TAG_LENGTH = 1024;
/** Total tag bytes per response (Cloudflare's limit); derived tags come out of this budget first. */
export const MAX_TAG_BYTES = 16 * 1024;
/** Directory depth for prefix tags; a purge of a deeper prefix purges its depth-8 ancestor (safe over-purge). */
export const MAX_PREFIX_DEPTH = 8;
/** The tag every entry carries: purging it is "purge everything". */
export const EVERYTHING_TAG = "*";

const PRINTABLE_NO_SPACE = /^[\x21-\x7e]+$/;

export interface ParsedTags {
  tags: string[];
  /** Tags rejected, with why (logged, never fatal). */
  dropped: { tag: string; reason: string }[];
}

/** Why a tag is invalid, or null when it is fine. */
export function tagProblem(tag: string): string | null {
  if (tag.length === 0) return "empty";
  if (tag.length > MAX_TAG_LENGTH) return `longer than ${MAX_TAG_LENGTH} characters`;
  if (!PRINTABLE_NO_SPACE.test(tag)) return "not printable ASCII without spaces";
  return null;
}

/**
 * Tags from the configured headers, in header order: comma or space separated, lower-cased,
 * de-duplicated; invalid ones and those past the byte budget are dropped and reported.
 */
export function parseTagHeaders(headers: Headers, names: readonly string[], budget: number): ParsedTags {
  const out: ParsedTags = { tags: [], dropped: [] };
  const seen = new Set<string>();
  let bytes = 0;
  for (const name of names) {
    const value = headers.get(name);
    if (!value) continue;
    for (const raw of value.split(/[,\s]+/)) {
      if (raw === "") continue;
      const tag = raw.toLowerCase();
      const problem = tagProblem(tag);
      if (problem) {
        out.dropped.push({ tag: tag.slice(0, 64), reason: problem });
        continue;
      }
      if (seen.has(tag)) continue;
      if (bytes + tag.length + 1 > budget) {
        out.dropped.push({ tag: tag.slice(0, 64), reason: "over the 16 KB tag budget" });
        continue;
      }
      seen.add(tag);
      bytes += tag.length + 1;
      out.tags.push(tag);
    }
  }
  return out;
}

/** Lower-case hex SHA-256, truncated to 128 bits: enough to never collide, short enough for a tag. */
export async function hashHex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Tag for one URL identity (scheme://host/path?query, normalised; all its variants). */
export async function urlTag(normalisedUrl: string): Promise<string> {
  return `u:${await hashHex(normalisedUrl)}`;
}

/** Tag for a host: every entry of that host. */
export function hostTag(host: string): string {
  return `h:${host.toLowerCase()}`;
}

/** Tag for a directory prefix ("example.com" + "/blog"); segment-aligned, never "/blogger" for "/blog". */
export async function prefixTag(host: string, pathPrefix: string): Promise<string> {
  return `p:${await hashHex(`${host.toLowerCase()}${pathPrefix}`)}`;
}

/**
 * Directory prefixes of a path, shortest first: "/a/b/c" -> ["/a", "/a/b", "/a/b/c"].
 * A trailing slash names the same directory ("/a/b/" -> ["/a", "/a/b"]). Capped at MAX_PREFIX_DEPTH.
 */
export function pathPrefixes(path: string): string[] {
  const segments = path.split("/").filter((s) => s !== "");
  const out: string[] = [];
  let acc = "";
  for (const seg of segments.slice(0, MAX_PREFIX_DEPTH)) {
    acc += `/${seg}`;
    out.push(acc);
  }
  return out;
}

/** The tags derived from an entry's identity: everything, host, each directory prefix, and its URL. */
export async function derivedTags(host: string, path: string, normalisedUrl: string): Promise<string[]> {
  const prefixes = await Promise.all(pathPrefixes(path).map((p) => prefixTag(host, p)));
  return [EVERYTHING_TAG, hostTag(host), ...prefixes, await urlTag(normalisedUrl)];
}

/** Bytes of derived tags reserved out of the 16 KB budget (the rest is the origin's). */
export const DERIVED_TAG_BYTES = 2 + (2 + 253 + 1) + MAX_PREFIX_DEPTH * 35 + 35;
