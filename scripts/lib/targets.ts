/**
 * The URL list warm and verify work on: positional arguments, --file lists (one URL or path per
 * line, `#` comments) and --sitemap URLs (sitemap.xml, sitemap indexes, gzipped sitemaps).
 * Relative paths resolve against the endpoint; the result is de-duplicated, in input order.
 */
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { positiveInt, readStdin, resolveEndpoint, RunError, splitList, UsageError } from "./cli.ts";

export interface TargetSources {
  positionals: string[];
  files: string[];
  sitemaps: string[];
  /** Base for relative paths; undefined: every input must be absolute. */
  endpoint: URL | undefined;
  /** Move absolute URLs onto the endpoint (keep path and query): a production sitemap against staging. */
  rebase: boolean;
}

/** One list file's entries: blank lines and `#` comments (whole-line, or after whitespace) dropped. */
export function parseUrlList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/(^|\s)#.*$/, "").trim())
    .filter((line) => line !== "");
}

/** Resolve one input (absolute URL, "/path" or "path") to an absolute http(s) URL. */
export function resolveTarget(input: string, endpoint: URL | undefined, rebase: boolean): string {
  let url: URL;
  if (/^[a-z][a-z0-9+.-]*:/i.test(input)) {
    try {
      url = new URL(input);
    } catch {
      throw new UsageError(`${JSON.stringify(input)} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${JSON.stringify(input)}: only http(s) URLs can be fetched`);
    if (rebase && endpoint) url = new URL(url.pathname + url.search, endpoint);
  } else {
    if (!endpoint) throw new UsageError(`${JSON.stringify(input)} is relative: set EDGE_CACHE_URL or pass --endpoint`);
    // "blog/x" and "/blog/x" both mean a path on the endpoint (a base with a path keeps its path for "blog/x").
    url = new URL(input, endpoint);
  }
  url.hash = "";
  return url.href;
}

/** Read the <loc> entries of one sitemap document; `index` when it is a <sitemapindex>. */
export function parseSitemap(xml: string): { index: boolean; locs: string[] } {
  const index = /<(?:[\w-]+:)?sitemapindex[\s>]/i.test(xml);
  const locs: string[] = [];
  for (const m of xml.matchAll(/<(?:[\w-]+:)?loc>\s*([\s\S]*?)\s*<\/(?:[\w-]+:)?loc>/gi)) {
    let v = m[1] ?? "";
    const cdata = /^<!\[CDATA\[([\s\S]*)\]\]>$/.exec(v);
    if (cdata) v = cdata[1] ?? "";
    else v = decodeXml(v);
    v = v.trim();
    if (v) locs.push(v);
  }
  return { index, locs };
}

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (all, e: string) => {
    const l = e.toLowerCase();
    if (l === "amp") return "&";
    if (l === "lt") return "<";
    if (l === "gt") return ">";
    if (l === "quot") return "\"";
    if (l === "apos") return "'";
    const code = l.startsWith("#x") ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : all;
  });
}

const MAX_SITEMAP_DEPTH = 3;
const MAX_SITEMAP_FILES = 1000;

/** Fetch a sitemap (following sitemap indexes) and return its page URLs. */
export async function fetchSitemapUrls(
  sitemapUrl: string,
  opts: { timeoutMs: number; log?: (line: string) => void },
): Promise<string[]> {
  const pages: string[] = [];
  const seen = new Set<string>();
  const queue: { url: string; depth: number }[] = [{ url: sitemapUrl, depth: 0 }];
  while (queue.length) {
    const { url, depth } = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    if (seen.size > MAX_SITEMAP_FILES) throw new RunError(`${sitemapUrl}: more than ${MAX_SITEMAP_FILES} sitemap files`);
    let res: Response;
    let bytes: Uint8Array;
    try {
      res = await fetch(url, { headers: { accept: "application/xml, text/xml;q=0.9, */*;q=0.1" }, signal: AbortSignal.timeout(opts.timeoutMs) });
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw new RunError(`sitemap ${url}: ${describeFetchError(e)}`);
    }
    if (!res.ok) throw new RunError(`sitemap ${url}: HTTP ${res.status}`);
    // A .xml.gz served as application/octet-stream arrives still gzipped (fetch only undoes Content-Encoding).
    const xml = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString("utf8") : new TextDecoder().decode(bytes);
    const { index, locs } = parseSitemap(xml);
    if (!index && !/<(?:[\w-]+:)?urlset[\s>]/i.test(xml)) throw new RunError(`sitemap ${url}: neither a <urlset> nor a <sitemapindex>`);
    opts.log?.(`sitemap ${url}: ${locs.length} ${index ? "sitemaps" : "URLs"}`);
    for (const loc of locs) {
      let abs: string;
      try {
        abs = new URL(loc, url).href;
      } catch {
        opts.log?.(`sitemap ${url}: skipping ${JSON.stringify(loc)} (not a URL)`);
        continue;
      }
      if (index) {
        if (depth + 1 > MAX_SITEMAP_DEPTH) throw new RunError(`sitemap ${url}: sitemap indexes nested deeper than ${MAX_SITEMAP_DEPTH}`);
        queue.push({ url: abs, depth: depth + 1 });
      } else {
        pages.push(abs);
      }
    }
  }
  return pages;
}

/** Every target, resolved and de-duplicated in input order (files, then positionals, then sitemaps). */
export async function collectTargets(src: TargetSources, opts: { timeoutMs: number; log?: (line: string) => void }): Promise<string[]> {
  const inputs: string[] = [];
  let stdinUsed = false;
  for (const file of src.files) {
    let text: string;
    if (file === "-") {
      if (stdinUsed) throw new UsageError("--file - (stdin) given twice");
      stdinUsed = true;
      text = await readStdin();
    } else {
      try {
        text = await readFile(file, "utf8");
      } catch (e) {
        throw new UsageError(`--file ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
      }
    }
    inputs.push(...parseUrlList(text));
  }
  inputs.push(...src.positionals);
  const urls = inputs.map((u) => resolveTarget(u, src.endpoint, src.rebase));
  for (const sitemap of src.sitemaps) {
    const where = resolveTarget(sitemap, src.endpoint, false);
    const pages = await fetchSitemapUrls(where, opts);
    urls.push(...pages.map((u) => resolveTarget(u, src.endpoint, src.rebase)));
  }
  return [...new Set(urls)];
}

/** A fetch failure as one short line ("connect ECONNREFUSED 127.0.0.1:8787", "timed out after 15000 ms"). */
export function describeFetchError(e: unknown, timeoutMs?: number): string {
  if (!(e instanceof Error)) return String(e);
  if (e.name === "TimeoutError" || e.name === "AbortError") return timeoutMs ? `timed out after ${timeoutMs} ms` : "timed out";
  // undici: TypeError("fetch failed") with the socket error (or an AggregateError of them) as cause.
  let cause = (e as { cause?: unknown }).cause;
  const inner = (cause as { errors?: unknown[] } | undefined)?.errors;
  if (Array.isArray(inner) && inner[0] instanceof Error) cause = inner[0];
  if (cause instanceof Error) return cause.message || (cause as NodeJS.ErrnoException).code || e.message;
  return e.message;
}

// ---------------------------------------------------------------------------------------------
// The URL-list flags warm and verify share

/** parseArgs options for the URL inputs (spread into a script's own options). */
export const TARGET_OPTIONS = {
  file: { type: "string", multiple: true },
  sitemap: { type: "string", multiple: true },
  languages: { type: "string", multiple: true },
  endpoint: { type: "string" },
  rebase: { type: "boolean" },
  timeout: { type: "string" },
} as const;

/** The environment section of warm's and verify's help. */
export const ENV_USAGE = `Environment:
  EDGE_CACHE_URL         the worker's base URL, e.g. http://127.0.0.1:8787`;

/** Help text for TARGET_OPTIONS, in scripts/purge.ts's layout. */
export const TARGET_USAGE = `URLs (combine freely; duplicates are requested once):
  <url-or-path>...       positional: absolute URLs, or paths resolved against the endpoint
  --file <path>          one URL or path per line, # comments; "-" reads stdin (repeatable)
  --sitemap <url>        a sitemap.xml or sitemap index (nested, .gz too); a path is
                         resolved against the endpoint (repeatable)
  --rebase               request absolute URLs (and sitemap entries) on the endpoint
                         instead: same path and query, the endpoint's scheme and host

Options:
  --endpoint <url>       worker base URL (default: $EDGE_CACHE_URL)
  --languages <list>     each URL once per language, e.g. en,fr, sent as Accept-Language
                         (each is its own cache entry when the worker's \`languages\` is
                         set); default: no Accept-Language (the worker's default language)
  --timeout <ms>         per request (default 15000)`;

export interface Job {
  url: string;
  /** The URL as shown in tables: its path and query when it is on the endpoint. */
  display: string;
  language: string | undefined;
}

export interface Jobs {
  endpoint: URL | undefined;
  urls: string[];
  languages: string[];
  jobs: Job[];
  timeoutMs: number;
}

const LANGUAGE = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i;

/** Validate the URL flags, read the lists and sitemaps, and expand languages into jobs. */
export async function loadJobs(
  values: { file?: string[] | undefined; sitemap?: string[] | undefined; languages?: string[] | undefined; endpoint?: string | undefined; rebase?: boolean | undefined; timeout?: string | undefined },
  positionals: string[],
  env: Record<string, string | undefined>,
  log: (line: string) => void,
): Promise<Jobs> {
  const files = values.file ?? [];
  const sitemaps = values.sitemap ?? [];
  if (files.length === 0 && sitemaps.length === 0 && positionals.length === 0) {
    throw new UsageError("no URLs: give paths or URLs as arguments, --file <list> or --sitemap <url>");
  }
  const languages = splitList(values.languages);
  for (const l of languages) if (!LANGUAGE.test(l)) throw new UsageError(`--languages: ${JSON.stringify(l)} is not a language tag (en, fr, pt-br)`);
  const timeoutMs = positiveInt("timeout", values.timeout, 15_000, 600_000);
  const rebase = !!values.rebase;
  // Needed for relative paths and --rebase; a list of absolute URLs works without it
  // (resolveTarget names the first relative input when it is missing).
  const endpoint = resolveEndpoint(values.endpoint, env, rebase);
  const urls = await collectTargets({ positionals, files, sitemaps, endpoint, rebase }, { timeoutMs, log });
  if (urls.length === 0) throw new RunError("the lists and sitemaps given hold no URLs");
  const variants = languages.length ? languages : [undefined];
  const jobs = urls.flatMap((url) => variants.map((language) => ({ url, display: displayUrl(url, endpoint), language })));
  return { endpoint, urls, languages, jobs, timeoutMs };
}

/** Path and query for URLs on the endpoint, the full URL otherwise. */
export function displayUrl(url: string, endpoint: URL | undefined): string {
  const u = new URL(url);
  return endpoint && u.origin === endpoint.origin ? `${u.pathname}${u.search}` : u.href;
}
