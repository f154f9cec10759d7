/**
 * Edge Side Includes (I/O): a step of the delivery chain that assembles a page the origin marked
 * (`Surrogate-Control: content="ESI/1.0"`) on a rule with `esi: true`, with HTMLRewriter.
 *
 * - `<esi:include src alt onerror="continue">`: each fragment is a subrequest through the same
 *   pipeline (its own key, rule, tags, lifetime, purges), with the visitor's headers and cookies:
 *   a public fragment is shared, one under a bypass rule (or answered private) is the visitor's own.
 * - `<esi:remove>…</esi:remove>` is dropped, `<esi:comment/>` too, and `<!--esi … -->` unwrapped.
 * - Fragments are fetched in parallel (a first pass over the template finds them all) and written
 *   in document order as the second pass streams: the bytes before a fragment leave before it has
 *   arrived. Each has `esiFragmentTimeoutMs`; a failed one falls back to its `alt`, then to
 *   nothing (`onerror="continue"`) or an HTML comment naming the failure (and a log line).
 * - Bounds: ESI_MAX_INCLUDES per document, ESI_MAX_DEPTH levels, same-host relative URLs only.
 *
 * An assembled page is no longer the stored object: it is sent without Content-Length, ETag or
 * Last-Modified (so no conditional or Range request can be answered from the template's
 * validators), and `Cache-Control: private, no-cache` (it may hold a visitor's fragments).
 */
import { TIMED_OUT } from "../coalesce.ts";
import type { Config } from "../config.ts";
import { type Delivery, type DeliveryStep, headersOf } from "../deliver.ts";
import { logEvent } from "../log.ts";
import { inWorkerNamespace } from "../namespace.ts";
import { matchRule } from "../policy.ts";
import { BUFFER_LIMIT, discard, readWhole } from "../store/entries.ts";
import { ESI_MAX_DEPTH, ESI_MAX_INCLUDES, esiMarked, fragmentTarget, includeOffsets, normaliseTemplate } from "./markup.ts";

/** What an assembled page tells browsers and caches downstream. */
export const ASSEMBLED_CACHE_CONTROL = "private, no-cache";
/** Largest fragment body inserted (read whole within the fragment's time). */
const FRAGMENT_MAX = BUFFER_LIMIT;

/** A fragment's answer: its status, its body, and (for the debug header) its Cache-Status. */
export interface Fragment {
  status: number;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  cacheStatus: () => string;
}

export interface EsiContext {
  config: Config;
  /** 0 for a client's page, 1 for its fragments, ... */
  depth: number;
  /** The answer to a fragment request, through the pipeline one level deeper. */
  fragment(request: Request): Promise<Fragment>;
}

interface Include {
  src: string;
  alt: string | null;
  continueOnError: boolean;
}

type Resolved = { ok: true; src: string; bytes: Uint8Array; status: string } | { ok: false; src: string; reason: string; continueOnError: boolean };

/** Request headers a fragment never inherits from the page's request: they describe the page. */
const PAGE_ONLY = ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range", "content-length", "content-type"];

export function esiStep(ctx: EsiContext): DeliveryStep {
  return async (request, d) => {
    if (!assemblable(d, ctx.config)) return d;
    const headers = new Headers(headersOf(d));
    for (const name of ["content-length", "etag", "last-modified", "accept-ranges", "surrogate-control"]) headers.delete(name);
    // Age stays the template's: how long the stored part has been cached.
    const assembled = { ...d, source: "assembled" as const, headers, prepared: undefined, cacheControl: ASSEMBLED_CACHE_CONTROL };
    if (request.method === "HEAD" || d.body === null) {
      void discard(d);
      return { ...assembled, body: null };
    }
    const template = d.body instanceof Uint8Array ? d.body : await readWhole(d.body, ctx.config.maxEntryBytes, null).catch(() => null);
    if (!template) return { ...assembled, body: new TextEncoder().encode("<!-- esi: the page could not be read -->\n") };
    const t = await prepare(template);
    const { includes } = t;
    const page = new URL(request.url);
    // One deadline for the page's fragments (they all start now).
    const deadline = timer(ctx.config.esiFragmentTimeoutMs);
    const results = includes.map((inc, i) => (i < ESI_MAX_INCLUDES
      ? resolve(inc, request, page, ctx, deadline)
      : Promise.resolve<Resolved>({ ok: false, src: inc.src, reason: `more than ${ESI_MAX_INCLUDES} includes`, continueOnError: inc.continueOnError })));
    if (ctx.config.debugHeaders && results.length) headers.set("x-edge-esi", (await Promise.all(results)).map(describe).join(", "));
    if (results.length) void Promise.all(results).finally(deadline.cancel);
    else deadline.cancel();
    return { ...assembled, body: render(t, results) };
  };
}

/** The origin marked this response for ESI (a stored object's mark is kept in its prepared headers). */
export function esiTemplate(d: Delivery): boolean {
  return d.prepared ? d.prepared.esi : esiMarked(headersOf(d).get("surrogate-control"));
}

/** A 200 HTML page the origin marked, on a rule that assembles ESI. */
function assemblable(d: Delivery, config: Config): boolean {
  if (d.source === "synthetic" || d.source === "assembled" || d.status !== 200 || !d.key) return false;
  if (matchRule(d.key.path, config.rules)?.esi !== true) return false;
  return esiTemplate(d) && /^\s*text\/html\b/i.test((d.prepared?.headers ?? headersOf(d)).get("content-type") ?? "");
}

/** Track `<esi:remove>` nesting: includes inside one are not processed (and not counted). */
function removals() {
  let depth = 0;
  return {
    enter(el: Element) {
      depth++;
      el.onEndTag(() => { depth--; });
    },
    get inside() {
      return depth > 0;
    },
  };
}

interface Template {
  /** The normalised document (markup.ts). */
  doc: Uint8Array;
  includes: Include[];
  /** Where includes start: the document is fed to the second pass in pieces cut there. */
  cuts: number[];
}

/** Templates already prepared, by their bytes (the memory tier hands every hit the same bytes). */
const prepared = new WeakMap<Uint8Array, Template>();

/** Normalise the template and find every include it makes, in order (the first pass). */
async function prepare(template: Uint8Array): Promise<Template> {
  const known = prepared.get(template);
  if (known) return known;
  const doc = normaliseTemplate(template);
  const found: Include[] = [];
  const removing = removals();
  const rewriter = new HTMLRewriter()
    .on("esi\\:remove", { element: (el) => removing.enter(el) })
    .on("esi\\:include", {
      element(el) {
        if (removing.inside) return;
        found.push({ src: el.getAttribute("src") ?? "", alt: el.getAttribute("alt"), continueOnError: el.getAttribute("onerror") === "continue" });
      },
    });
  await rewriter.transform(new Response(doc)).arrayBuffer();
  const t = { doc, includes: found, cuts: includeOffsets(doc) };
  prepared.set(template, t);
  return t;
}

/**
 * The document in pieces ending where includes start: the rewriter's output for a piece is sent
 * once the piece is written, so what comes before a slow fragment is not held back with it.
 */
function pieces(t: Template): ReadableStream<Uint8Array> {
  const bounds = [...t.cuts, t.doc.byteLength];
  let from = 0;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      while (i < bounds.length && bounds[i]! <= from) i++;
      if (i >= bounds.length) return controller.close();
      const to = bounds[i++]!;
      controller.enqueue(t.doc.subarray(from, to));
      from = to;
    },
  }, { highWaterMark: 0 });
}

/** The second pass: the document streamed, each include replaced by its fragment once it has arrived. */
function render(t: Template, results: Promise<Resolved>[]): ReadableStream<Uint8Array> {
  let i = 0;
  const removing = removals();
  const rewriter = new HTMLRewriter()
    .on("esi\\:remove", { element: (el) => { removing.enter(el); el.remove(); } })
    // A self-closing <esi:comment/> or <esi:include/> is not a void element to an HTML parser: what
    // follows it up to its parent's end is its "content", kept (removeAndKeepContent).
    .on("esi\\:comment", { element: (el) => { el.removeAndKeepContent(); } })
    .on("esi\\:include", {
      async element(el) {
        if (removing.inside) return;
        const r = await results[i++]!;
        if (r.ok) el.before(new Response(r.bytes), { html: true });
        else if (!r.continueOnError) el.before(`<!-- esi:include ${JSON.stringify(r.src).replace(/--/g, "- -")} failed: ${r.reason.replace(/--/g, "- -")} -->`, { html: true });
        el.removeAndKeepContent();
      },
    });
  return rewriter.transform(new Response(pieces(t))).body!;
}

/** A deadline shared by a page's fragments: `at` resolves to TIMED_OUT when it passes. */
interface Deadline {
  at: Promise<typeof TIMED_OUT>;
  cancel(): void;
}

function timer(ms: number): Deadline {
  let handle: ReturnType<typeof setTimeout> | undefined;
  const at = new Promise<typeof TIMED_OUT>((r) => { handle = setTimeout(() => r(TIMED_OUT), ms); });
  return { at, cancel: () => { if (handle !== undefined) clearTimeout(handle); } };
}

/** Fetch an include (then its alt) within the page's fragment deadline. */
async function resolve(inc: Include, page: Request, url: URL, ctx: EsiContext, deadline: Deadline): Promise<Resolved> {
  const reasons: string[] = [];
  for (const src of inc.alt ? [inc.src, inc.alt] : [inc.src]) {
    // The alt, tried once the src has failed, gets a time of its own.
    const own = src === inc.src ? null : timer(ctx.config.esiFragmentTimeoutMs);
    const r = await fetchFragment(src, page, url, ctx, own ?? deadline).finally(() => own?.cancel());
    if (typeof r !== "string") return { ok: true, src, bytes: r.bytes, status: r.status };
    reasons.push(inc.alt ? `${src}: ${r}` : r);
  }
  const reason = reasons.join("; ");
  logEvent("warn", "esi-include-failed", { page: url.pathname, src: inc.src, reason, continued: inc.continueOnError });
  return { ok: false, src: inc.src, reason, continueOnError: inc.continueOnError };
}

/** One fragment: its bytes and Cache-Status, or why it failed. */
async function fetchFragment(src: string, page: Request, pageUrl: URL, ctx: EsiContext, deadline: Deadline): Promise<{ bytes: Uint8Array; status: string } | string> {
  const target = fragmentTarget(src, pageUrl);
  if (!target.ok) return `refused (${target.reason})`;
  if (inWorkerNamespace(target.url.pathname)) return "refused (the worker's own namespace)";
  if (ctx.depth + 1 > ESI_MAX_DEPTH) return `refused (more than ${ESI_MAX_DEPTH} levels of includes)`;
  const headers = new Headers(page.headers);
  for (const name of PAGE_ONLY) headers.delete(name);
  const ms = ctx.config.esiFragmentTimeoutMs;
  const pending = ctx.fragment(new Request(target.url, { method: "GET", headers }));
  const res = await Promise.race([pending, deadline.at]);
  if (res === TIMED_OUT) {
    void pending.then(discard, () => undefined);
    return `no answer within ${ms} ms`;
  }
  if (res.status !== 200) {
    await discard(res);
    return `status ${res.status}`;
  }
  if (res.body === null || res.body instanceof Uint8Array) return { bytes: res.body ?? new Uint8Array(), status: ctx.config.debugHeaders ? res.cacheStatus() : "" };
  const bytes = await Promise.race([readWhole(res.body, FRAGMENT_MAX, null).catch(() => null), deadline.at]);
  if (bytes === TIMED_OUT) return `body not complete within ${ms} ms`;
  if (bytes === null) return `body unreadable or over ${FRAGMENT_MAX} bytes`;
  return { bytes, status: ctx.config.debugHeaders ? res.cacheStatus() : "" };
}

/** A fragment in the debug header: its src and Cache-Status, or its failure. */
function describe(r: Resolved): string {
  return r.ok ? `${JSON.stringify(r.src)}; status=${JSON.stringify(r.status)}` : `${JSON.stringify(r.src)}; error=${JSON.stringify(r.reason)}`;
}
