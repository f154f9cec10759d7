/**
 * Edge Side Includes, the parts that need no I/O (pure): whether a response asks for ESI, which
 * fragment URLs are allowed, and the `<!--esi ... -->` comments unwrapped before parsing.
 * ESI Language Specification 1.0 (W3C Note, 2001), Edge Architecture Specification 1.0.
 */

/** Most nested includes: a page, its fragments, theirs, and theirs. */
export const ESI_MAX_DEPTH = 3;
/** Most includes processed in one document; later ones fail (their alt / onerror apply). */
export const ESI_MAX_INCLUDES = 32;

/**
 * Edge Architecture Specification §3: the origin asks a surrogate to process ESI with
 * `Surrogate-Control: content="ESI/1.0"` (a list of tokens, optionally targeted `;name`).
 */
export function esiMarked(surrogateControl: string | null): boolean {
  if (!surrogateControl) return false;
  return /(?:^|[,\s])content\s*=\s*"?[^",;]*\bESI\/1\.0\b/i.test(surrogateControl);
}

export type FragmentTarget = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * The URL a fragment's `src` names, if it may be fetched: a relative reference on the page's own
 * host and scheme (`/fragments/user/`, `sidebar/`). Absolute URLs, scheme-relative `//host`,
 * backslashes (which some parsers read as slashes), control characters and anything outside the
 * page's origin are refused: fragments never reach another host (no SSRF through a template).
 */
export function fragmentTarget(src: string, page: URL): FragmentTarget {
  const s = src.trim();
  if (s === "") return { ok: false, reason: "empty src" };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(s)) return { ok: false, reason: "control character or backslash in src" };
  if (/^[a-z][a-z0-9+.-]*:/i.test(s) || s.startsWith("//")) return { ok: false, reason: "not a relative URL on this host" };
  let url: URL;
  try {
    url = new URL(s, page);
  } catch {
    return { ok: false, reason: "unparseable src" };
  }
  if (url.origin !== page.origin) return { ok: false, reason: "not on this host" };
  url.hash = "";
  return { ok: true, url };
}

/**
 * The template as HTMLRewriter should read it (done on the document's bytes as a binary string, one
 * character per byte, so text in any encoding passes through unchanged):
 * - ESI §3.7: `<!--esi ... -->` hides ESI markup from browsers when no processor runs; a processor
 *   removes the comment delimiters and processes what is inside;
 * - `<esi:include .../>` becomes `<esi:include ...></esi:include>`: to an HTML parser it is not a
 *   void element, so a self-closing one would otherwise "contain" what follows it, up to and
 *   including its parent's end tag.
 */
export function normaliseTemplate(bytes: Uint8Array): Uint8Array {
  if (indexOf(bytes, ESI_COMMENT) === -1 && indexOf(bytes, ESI_TAG) === -1) return bytes;
  const out = binaryString(bytes)
    .replace(/<!--esi([\s\S]*?)-->/g, (_m, inner: string) => inner)
    .replace(/<(esi:(?:include|comment))\b((?:[^>"']|"[^"]*"|'[^']*')*?)\/>/gi, (_m, tag: string, attrs: string) => `<${tag}${attrs}></${tag}>`);
  const result = new Uint8Array(out.length);
  for (let i = 0; i < out.length; i++) result[i] = out.charCodeAt(i);
  return result;
}

/** Offsets where `<esi:include` starts (the template is fed to the rewriter in pieces split there). */
export function includeOffsets(bytes: Uint8Array): number[] {
  const at: number[] = [];
  for (let i = indexOf(bytes, INCLUDE_TAG); i !== -1; i = indexOf(bytes, INCLUDE_TAG, i + 1)) at.push(i);
  return at;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ESI_COMMENT = ascii("<!--esi");
const ESI_TAG = ascii("<esi:");
const INCLUDE_TAG = ascii("<esi:include");

/** Where `needle` first occurs in `hay` from `from`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first, from); i !== -1 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function binaryString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return s;
}
