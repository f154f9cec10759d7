/**
 * The ESI target: what assembling a page (src/esi/*) adds over a plain HIT of the same bytes. Our
 * worker with ESI on (EDGE_CONFIG = ESI_CONFIG; its own Miniflare, the same bundle under the same
 * KV-counting wrapper as the hit target's worker), the test origin scripted with realistic
 * templates (~32 KiB of HTML) and small fragments, and five runs at each connection count, one
 * after the other so the sides of each ratio are measured next to each other in time:
 *
 *   esi-plain     the esi-1 template's exact bytes, not marked for ESI (no Surrogate-Control):
 *                 a plain HIT of the same size, on the same worker and rule (the baseline);
 *   esi-1         the template HIT, 1 public fragment (cached on its own);
 *   esi-4         the template HIT, 4 public fragments (cached);
 *   esi-personal  a signed-in visitor (Cookie: sessionid=...): the shared template HIT, 1 public
 *                 fragment (cached) and 1 personal fragment under a bypass rule, fetched from the
 *                 origin with the visitor's cookie for every page;
 *   esi-origin    the test origin itself on the personal fragment's path, no worker: what
 *                 esi-personal's one origin round trip per page costs on its own.
 *
 * Checks (a BenchError, exit 1, when one fails), so no number measures an error page:
 * - before and after every run, one sample page: 200, X-Cache HIT (the template's), and the body
 *   byte for byte: the template with each include replaced by its fragment (no `<esi:` left, no
 *   failure comment), Cache-Control `private, no-cache` and no Content-Length on assembled pages;
 *   the plain page exactly the template's bytes with its Content-Length. The personal fragment's
 *   origin body carries the origin's per-path counter (#n): it must be new on every sample, and
 *   the origin's log must show the visitor's cookie on it;
 * - around the measured run: the origin saw no request for the template or the public fragments
 *   (its request log, by sequence number); for esi-personal, at least one request for the personal
 *   fragment per page (its counter), and no more than the run's pages plus the requests in flight
 *   when the warm-up and the run stopped; the worker logged no `esi-include-failed`;
 * - during the run, every response's body (autocannon's verifyBody, a string comparison on the body
 *   it reads anyway): the exact page as above (esi-personal: with any counter in its fragment);
 * - no errors or non-2xx responses, no body mismatches (checkRun).
 */
import { checkRun, expectHealthy, originCount } from "./checks.ts";
import { BenchError, expect, messageOf } from "./common.ts";
import { countingKv } from "./kv-counter.ts";
import { type LoadSettings, type Measured, measure } from "./load.ts";
import { type OriginProcess, originRequests, scriptOrigin } from "./origin.ts";
import type { LogTap, RunningWorker, WorkerSpec } from "./workers.ts";

const BASE = "/t/bench/esi";
/** The personal fragment: an unscripted /t/ path, so the origin answers it with its per-path counter. */
export const PERSONAL_FRAGMENT = `${BASE}/personal/user/`;
/** The signed-in visitor of esi-personal (sessionid is the default session cookie). */
export const ESI_COOKIE = "sessionid=bench-visitor";

/** The esi worker's EDGE_CONFIG: the README's example, its bypass rule on the bench's personal path. */
export const ESI_CONFIG = {
  rules: [
    { name: "html", paths: ["*"], cacheControl: "public, max-age=300, s-maxage=1800", esi: true },
    { name: "personal", paths: [`${BASE}/personal/*`], bypass: true },
  ],
} as const;

/** The public fragments, by slot in the template. */
const FRAGMENTS = {
  menu: `${BASE}/frag/menu/`,
  popular: `${BASE}/frag/popular/`,
  related: `${BASE}/frag/related/`,
  newsletter: `${BASE}/frag/newsletter/`,
} as const;
type Slot = keyof typeof FRAGMENTS | "user";

/** The ESI runs, in run order at each connection count. */
export const ESI_RUNS = ["esi-plain", "esi-1", "esi-4", "esi-personal", "esi-origin"] as const;
export type EsiRun = (typeof ESI_RUNS)[number];

export const ESI_DESCRIPTIONS: Record<EsiRun, string> = {
  "esi-plain": "ESI worker, the esi-1 template's bytes not marked for ESI: a plain HIT of the same size",
  "esi-1": "ESI worker, template HIT + 1 public cached fragment, assembled",
  "esi-4": "ESI worker, template HIT + 4 public cached fragments, assembled",
  "esi-personal": "ESI worker, Cookie: sessionid: template HIT + 1 public cached fragment + 1 personal fragment (origin every page)",
  "esi-origin": "the test origin itself, the personal fragment's path (no worker)",
};

/** A response-body generator that is the same on every run: a tiny LCG over a fixed word list. */
function words(seed: number) {
  const list = ("edge cache worker origin template fragment page visitor session shared private public stale fresh purge tag "
    + "journal key rule header body stream markup request response latency throughput isolate memory store shield location "
    + "region django view model form query index article comment author archive category feed sitemap release deploy "
    + "configuration policy cookie invariant subrequest assembled include document browser").split(" ");
  let x = seed >>> 0;
  const next = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
  return (n: number): string => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(list[next() % list.length] ?? "edge");
    const s = out.join(" ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  };
}

/** About this many bytes of HTML per template (a typical server-rendered article page). */
const TEMPLATE_TARGET_BYTES = 32 * 1024;

const include = (src: string) => `<esi:include src="${src}"/>`;

/** Where the skeleton's slots are, until `template` fills them (characters no generated text has). */
const slotMark = (slot: Slot) => `\u0000${slot}\u0000`;

/**
 * The page skeleton, generated once with its slots marked: every template is these bytes with
 * include tags (or nothing) in its slots, so esi-plain and esi-1 are byte for byte the same page.
 */
const SKELETON = (() => {
  const w = words(20_240_601);
  const style = Array.from({ length: 40 }, (_, i) => `.c${i}{margin:${i % 7}px ${i % 5}px;padding:${i % 3}px;color:#${(0x334455 + i * 4099).toString(16).slice(-6)}}`).join("");
  const head = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${w(8)} | Example Journal</title>`,
    `<meta name="description" content="${w(24)}">`,
    '<link rel="canonical" href="https://www.example.com/2026/01/an-article/">',
    ...Array.from({ length: 6 }, (_, i) => `<link rel="stylesheet" href="/static/css/site-${i}.3f9a${i}c1.css">`),
    ...Array.from({ length: 6 }, (_, i) => `<script src="/static/js/bundle-${i}.8b2e${i}d4.js" defer></script>`),
    `<style>${style}</style>`,
    "</head>",
  ].join("\n");
  const nav = Array.from({ length: 12 }, (_, i) => `<li><a href="/section/${i}/">${w(2)}</a></li>`).join("");
  const title = `<h1>${w(9)}</h1><p class="byline">By ${w(2)} on <time datetime="2026-01-15">January 15, 2026</time></p>`;
  const comments = Array.from({ length: 8 }, (_, i) =>
    `<li class="comment" id="c${i}"><p class="meta"><strong>${w(2)}</strong> <time datetime="2026-01-0${i + 1}T10:00:00Z">January ${i + 1}, 2026</time></p><p>${w(40)}</p></li>`).join("\n");
  const tagCloud = Array.from({ length: 24 }, (_, i) => `<a class="tag" href="/tags/${i}/">${w(1)}</a>`).join(" ");
  const footer = `<p>${w(20)}</p><p>&copy; 2026 Example Journal</p>`;
  const paragraphs: string[] = [];
  const page = () => [
    head,
    "<body>",
    `<header class="site-header"><a class="logo" href="/">Example Journal</a><nav><ul>${nav}</ul></nav>`,
    `<div class="account">${slotMark("menu")}${slotMark("user")}</div></header>`,
    '<main><article class="post">',
    title,
    ...paragraphs,
    "</article>",
    `<section class="related">${slotMark("related")}</section>`,
    `<section class="comments"><h2>Comments</h2><ol>\n${comments}\n</ol></section>`,
    "</main>",
    `<aside class="sidebar">${slotMark("popular")}<div class="tags">${tagCloud}</div></aside>`,
    `<footer class="site-footer">${slotMark("newsletter")}${footer}</footer>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
  while (Buffer.byteLength(page()) < TEMPLATE_TARGET_BYTES) {
    const i = paragraphs.length;
    const link = i % 3 === 0 ? ` <a href="/2025/${(i % 12) + 1}/${i}/">${w(4)}</a>` : "";
    const em = i % 4 === 1 ? ` <em>${w(3)}</em>` : "";
    const heading = i > 0 && i % 6 === 0 ? `<h2>${w(5)}</h2>\n` : "";
    paragraphs.push(`${heading}<p class="c${i % 40}">${w(60)}${link}.${em} ${w(30)}.</p>`);
  }
  const marked = page();
  return (slots: Partial<Record<Slot, string>>) => marked.replace(/\u0000(\w+)\u0000/g, (_m, slot: Slot) => slots[slot] ?? "");
})();

/** The fragments' bodies (small, as an origin renders them), each marked with its slot. */
const FRAGMENT_BODIES: Record<keyof typeof FRAGMENTS, string> = (() => {
  const w = words(7);
  const list = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `<li><a href="/${prefix}/${i}/">${w(5)}</a></li>`).join("");
  return {
    menu: '<div class="account-menu" data-fragment="menu"><a href="/accounts/login/">Sign in</a> &middot; '
      + '<a href="/accounts/signup/">Create an account</a> &middot; <a href="/help/">Help</a></div>',
    popular: `<div class="popular" data-fragment="popular"><h3>Popular this week</h3><ol>${list(5, "popular")}</ol></div>`,
    related: `<div class="related-posts" data-fragment="related"><h2>Related</h2><ul>${list(4, "related")}</ul></div>`,
    newsletter: '<form class="newsletter" data-fragment="newsletter" method="post" action="/newsletter/">'
      + '<label for="nl-email">The weekly letter</label><input id="nl-email" type="email" name="email" required>'
      + '<button type="submit">Subscribe</button></form>',
  };
})();

/** One page the worker assembles (or, for esi-plain, serves as stored). */
interface Page {
  run: Exclude<EsiRun, "esi-origin">;
  path: string;
  /** What the origin sends. */
  template: string;
  marked: boolean;
  /** Public fragments it includes (cached). */
  fragments: (keyof typeof FRAGMENTS)[];
  /** Includes the personal fragment (and is asked with the visitor's cookie). */
  personal: boolean;
}

const ONE_SLOTS = { menu: include(FRAGMENTS.menu) };
const PAGES: Record<Page["run"], Page> = {
  "esi-plain": { run: "esi-plain", path: `${BASE}/plain`, template: SKELETON(ONE_SLOTS), marked: false, fragments: [], personal: false },
  "esi-1": { run: "esi-1", path: `${BASE}/page-1`, template: SKELETON(ONE_SLOTS), marked: true, fragments: ["menu"], personal: false },
  "esi-4": {
    run: "esi-4", path: `${BASE}/page-4`, marked: true, personal: false,
    template: SKELETON({ menu: include(FRAGMENTS.menu), popular: include(FRAGMENTS.popular), related: include(FRAGMENTS.related), newsletter: include(FRAGMENTS.newsletter) }),
    fragments: ["menu", "popular", "related", "newsletter"],
  },
  "esi-personal": {
    run: "esi-personal", path: `${BASE}/page-personal`, marked: true, personal: true,
    template: SKELETON({ menu: include(FRAGMENTS.menu), user: include(PERSONAL_FRAGMENT) }),
    fragments: ["menu"],
  },
};

const TEMPLATE_HEADERS = { "content-type": "text/html; charset=utf-8" };
const MARK = { "surrogate-control": 'content="ESI/1.0"' };
const FRAGMENT_HEADERS = { "content-type": "text/html; charset=utf-8", "cache-control": "max-age=600" };

/** The page as it must reach the visitor: each public include replaced by its fragment (the personal one left as the tag). */
function assembled(p: Page): string {
  if (!p.marked) return p.template;
  let out = p.template;
  for (const f of p.fragments) out = out.replace(include(FRAGMENTS[f]), FRAGMENT_BODIES[f]);
  return out;
}

/** Sizes and settings (the report's setup lines and the JSON's `esi.setup`). */
export interface EsiSetup {
  config: typeof ESI_CONFIG;
  cookie: string;
  pages: { run: string; path: string; templateBytes: number; assembledBytes: number; marked: boolean; fragments: string[]; personal: string | null }[];
  fragments: { path: string; bytes: number; cacheControl: string }[];
  personalFragment: { path: string; origin: string };
}

export function esiSetup(): EsiSetup {
  const personalBody = `${PERSONAL_FRAGMENT} #n\n`;
  return {
    config: ESI_CONFIG,
    cookie: ESI_COOKIE,
    pages: Object.values(PAGES).map((p) => ({
      run: p.run, path: p.path, templateBytes: Buffer.byteLength(p.template), marked: p.marked,
      assembledBytes: Buffer.byteLength(assembled(p).replace(include(PERSONAL_FRAGMENT), p.personal ? personalBody : "")),
      fragments: p.fragments.map((f) => FRAGMENTS[f]), personal: p.personal ? PERSONAL_FRAGMENT : null,
    })),
    fragments: Object.entries(FRAGMENTS).map(([slot, path]) => ({
      path, bytes: Buffer.byteLength(FRAGMENT_BODIES[slot as keyof typeof FRAGMENTS]), cacheControl: FRAGMENT_HEADERS["cache-control"],
    })),
    personalFragment: {
      path: PERSONAL_FRAGMENT,
      origin: `unscripted test-origin path under the bypass rule: 200 text/plain "${PERSONAL_FRAGMENT} #<count>", no caching headers`,
    },
  };
}

/** What one ESI run found besides its numbers (results[].esi in the JSON). */
export interface EsiRunFindings {
  path: string;
  /** Bytes of the body checked on the samples. */
  bodyBytes: number;
  /** Origin requests for the template and the public fragments during the measured run (0: all HITs). */
  sharedOriginRequests: number;
  /** Origin requests for the personal fragment during the run (esi-personal), and per page. */
  personalOriginRequests?: number;
  personalPerPage?: number;
  /** `esi-include-failed` lines the worker logged during the run. */
  includeFailures: number;
}

/** ESI runs' Measured rows carry their findings. */
export type EsiMeasured = Measured & { esi?: EsiRunFindings };

/**
 * The ESI worker's log tap: counts and keeps out of the output the `esi-include-failed` warnings
 * (checked per run), keeping the first; everything else is printed as Miniflare would.
 */
function esiLogTap(): LogTap & { first(): string | undefined } {
  let failures = 0;
  let first: string | undefined;
  return {
    handle({ level, message }) {
      if (message.includes('"event":"esi-include-failed"')) {
        failures++;
        first ??= message;
        return;
      }
      if (level === "error" || level === "warn") console.error(message);
      else if (!message.includes('"event":"purge"')) console.log(message);
    },
    count: (event) => (event === "esi-include-failed" ? failures : 0),
    first: () => first,
  };
}

/** Our worker's spec (workers.ts edgeCacheSpec) with ESI on: ESI_CONFIG as EDGE_CONFIG, its own log tap. */
export function esiWorkerSpec(ours: WorkerSpec): WorkerSpec {
  return {
    ...ours,
    bindings: { ...ours.bindings, vars: { ...ours.bindings.vars, EDGE_CONFIG: ESI_CONFIG } },
    logs: esiLogTap(),
  };
}

/** One response, whole, with the headers the checks read. */
interface Sample {
  status: number;
  xCache: string | null;
  cacheStatus: string | null;
  cacheControl: string | null;
  contentLength: string | null;
  body: string;
}

async function get(url: string, cookie?: string): Promise<Sample> {
  let res: Response;
  try {
    // As autocannon asks: no Accept-Encoding (Node's fetch would ask for gzip, and workerd would compress the page).
    res = await fetch(url, { headers: { "accept-encoding": "identity", ...(cookie ? { cookie } : {}) }, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new BenchError(`${url} did not answer: ${messageOf(e)}`);
  }
  const body = await res.text();
  const h = (n: string) => res.headers.get(n);
  return { status: res.status, xCache: h("x-cache"), cacheStatus: h("cache-status"), cacheControl: h("cache-control"), contentLength: h("content-length"), body };
}

/** Tell the origin how to answer every path of the target (idempotent). */
async function scriptPaths(originUrl: string): Promise<void> {
  for (const p of Object.values(PAGES)) {
    await scriptOrigin(originUrl, p.path, { headers: { ...TEMPLATE_HEADERS, ...(p.marked ? MARK : {}) }, body: p.template });
  }
  for (const [slot, path] of Object.entries(FRAGMENTS)) {
    await scriptOrigin(originUrl, path, { headers: FRAGMENT_HEADERS, body: FRAGMENT_BODIES[slot as keyof typeof FRAGMENTS] });
  }
}

/** Ask until X-Cache is HIT (stores happen in waitUntil, after the first answer). */
async function untilHit(url: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = await get(url);
    expect(s.status === 200, `esi: ${url}: expected 200, got ${s.status}: ${s.body.slice(0, 200)}`);
    if (s.xCache === "HIT") return;
    if (Date.now() > deadline) throw new BenchError(`esi: ${url} never became a HIT (last X-Cache ${s.xCache}; Cache-Status ${s.cacheStatus})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The public fragments and every page cached (run before each group too: nothing may have expired). */
async function prime(workerUrl: string): Promise<void> {
  for (const path of Object.values(FRAGMENTS)) await untilHit(workerUrl + path);
  for (const p of Object.values(PAGES)) await untilHit(workerUrl + p.path);
}

/** Start-up of the target: the origin scripted, the worker healthy and primed. */
export async function prepareEsi(workerUrl: string, originUrl: string): Promise<void> {
  expect(PAGES["esi-plain"].template === PAGES["esi-1"].template, "esi: esi-plain's template must be esi-1's bytes");
  await scriptPaths(originUrl);
  await expectHealthy(workerUrl);
  await prime(workerUrl);
}

/** Where two strings first differ (for a readable failure). */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at byte ${i} of ${a.length}: got ${JSON.stringify(a.slice(Math.max(0, i - 40), i + 60))}, expected ${JSON.stringify(b.slice(Math.max(0, i - 40), i + 60))}`;
}

const PERSONAL_BODY = new RegExp(`^${PERSONAL_FRAGMENT.replace(/[/.]/g, "\\$&")} #(\\d+)\\n$`);

/** What every measured response's body must be (autocannon's verifyBody): the exact page, the personal fragment's counter aside. */
function verifier(p: Page): (body: string) => boolean {
  const expected = assembled(p);
  if (!p.personal) return (body) => body === expected;
  const [before, after] = expected.split(include(PERSONAL_FRAGMENT)) as [string, string];
  return (body) => body.length > before.length + after.length && body.startsWith(before) && body.endsWith(after)
    && PERSONAL_BODY.test(body.slice(before.length, body.length - after.length));
}

/**
 * One sample of `p` checked as the visitor must get it; returns the personal fragment's origin
 * count when it has one (it must change from sample to sample: fetched for every page).
 */
async function checkPage(workerUrl: string, p: Page, when: string): Promise<{ bytes: number; personalCount?: number }> {
  const s = await get(workerUrl + p.path, p.personal ? ESI_COOKIE : undefined);
  const where = `${p.run} (${p.path}) ${when} the run`;
  expect(s.status === 200, `${where}: expected 200, got ${s.status}: ${s.body.slice(0, 200)}`);
  expect(s.xCache === "HIT", `${where}: expected X-Cache: HIT for the template, got ${s.xCache} (${s.cacheStatus})`);
  const body = s.body;
  const bytes = Buffer.byteLength(body);
  if (!p.marked) {
    expect(body === p.template, `${where}: not the template's bytes ${firstDifference(body, p.template)}`);
    expect(s.contentLength === String(bytes), `${where}: expected Content-Length ${bytes}, got ${s.contentLength}`);
    return { bytes };
  }
  expect(!body.includes("<esi:"), `${where}: ESI markup left in the page: ${JSON.stringify(body.slice(body.indexOf("<esi:"), body.indexOf("<esi:") + 80))}`);
  expect(!body.includes("esi:include"), `${where}: an include failed: ${JSON.stringify(body.slice(Math.max(0, body.indexOf("esi:include") - 5), body.indexOf("esi:include") + 160))}`);
  for (const f of p.fragments) expect(body.includes(`data-fragment="${f}"`), `${where}: the ${f} fragment is missing`);
  expect(s.cacheControl === "private, no-cache", `${where}: an assembled page must be Cache-Control: private, no-cache, got ${s.cacheControl}`);
  expect(s.contentLength === null, `${where}: an assembled page has no Content-Length, got ${s.contentLength}`);
  const expected = assembled(p);
  if (!p.personal) {
    expect(body === expected, `${where}: not the assembled page ${firstDifference(body, expected)}`);
    return { bytes };
  }
  const [before, after] = expected.split(include(PERSONAL_FRAGMENT)) as [string, string];
  const middle = body.startsWith(before) && body.endsWith(after) ? body.slice(before.length, body.length - after.length) : null;
  if (middle === null) throw new BenchError(`${where}: not the assembled page ${firstDifference(body, body.startsWith(before) ? body : before)}`);
  const m = PERSONAL_BODY.exec(middle);
  if (!m?.[1]) throw new BenchError(`${where}: the personal fragment is not the origin's answer for ${PERSONAL_FRAGMENT}: ${JSON.stringify(middle.slice(0, 200))}`);
  return { bytes, personalCount: Number(m[1]) };
}

/** The newest origin log entry's sequence number for each path (0: none logged). */
async function logMarks(originUrl: string, paths: string[]): Promise<number[]> {
  return Promise.all(paths.map(async (path) => Math.max(0, ...(await originRequests(originUrl, path)).map((r) => r.seq))));
}

/** Origin requests for `paths` logged after `marks`. */
async function loggedSince(originUrl: string, paths: string[], marks: number[]): Promise<number> {
  const counts = await Promise.all(paths.map(async (path, i) => (await originRequests(originUrl, path)).filter((r) => r.seq > (marks[i] ?? 0)).length));
  return counts.reduce((a, b) => a + b, 0);
}

/** A sample of the personal page: the origin got the visitor's cookie for its fragment. */
async function expectCookieForwarded(originUrl: string, where: string): Promise<void> {
  // The newest request for it is the sample's (asked with the cookie) just before.
  const last = (await originRequests(originUrl, PERSONAL_FRAGMENT)).at(-1);
  expect(!!last && (last.headers.cookie ?? "").includes(ESI_COOKIE),
    `${where}: the origin's last request for ${PERSONAL_FRAGMENT} did not carry the visitor's cookie (got ${JSON.stringify(last?.headers.cookie ?? null)})`);
}

/** Measure one page of the ESI worker with its checks. */
async function runPage(worker: RunningWorker, origin: OriginProcess, p: Page, s: LoadSettings): Promise<EsiMeasured> {
  await prime(worker.url);
  const first = await checkPage(worker.url, p, "before");
  if (p.personal) {
    const second = await checkPage(worker.url, p, "before");
    expect((second.personalCount ?? 0) > (first.personalCount ?? 0),
      `${p.run}: the personal fragment was not fetched again for the second page (#${first.personalCount} then #${second.personalCount})`);
    await expectCookieForwarded(origin.url, `${p.run} before the run`);
  }
  const shared = p.marked ? [p.path, ...p.fragments.map((f) => FRAGMENTS[f])] : [p.path];
  const logs = worker.logs;
  let marks: number[] = [];
  let personalBefore = 0;
  let personalAfter = 0;
  let failuresBefore = 0;
  let failuresAfter = 0;
  const around: LoadSettings = {
    ...s,
    hooks: {
      before: async () => {
        await s.hooks?.before();
        marks = await logMarks(origin.url, shared);
        if (p.personal) personalBefore = await originCount(origin.url, PERSONAL_FRAGMENT);
        failuresBefore = logs?.count("esi-include-failed") ?? 0;
      },
      after: async () => {
        failuresAfter = logs?.count("esi-include-failed") ?? 0;
        if (p.personal) personalAfter = await originCount(origin.url, PERSONAL_FRAGMENT);
        await s.hooks?.after();
      },
    },
  };
  const kv = countingKv(worker.url, around);
  const m: EsiMeasured = await measure(kv.settings, {
    target: p.run, description: ESI_DESCRIPTIONS[p.run], base: worker.url, path: p.path, warmPath: p.path, unique: false,
    verifyBody: verifier(p), ...(p.personal ? { headers: { cookie: ESI_COOKIE } } : {}),
  });
  m.kv = kv.result(m.requests, m.seconds);
  const sharedSeen = await loggedSince(origin.url, shared, marks);
  const failures = failuresAfter - failuresBefore;
  const after = await checkPage(worker.url, p, "after");
  const where = `${p.run} @${s.connections}`;
  checkRun(m);
  expect(failures === 0, `${where}: the worker logged ${failures} failed includes during the run (first: ${(logs as ReturnType<typeof esiLogTap> | undefined)?.first?.()?.slice(0, 300)})`);
  expect(sharedSeen === 0, `${where}: the origin saw ${sharedSeen} requests for the template and public fragments during the run; expected 0 (all HITs)`);
  const findings: EsiRunFindings = { path: p.path, bodyBytes: after.bytes, sharedOriginRequests: sharedSeen, includeFailures: failures };
  const checked = p.marked
    ? `X-Cache: HIT and the assembled page checked byte for byte before and after (${p.fragments.length} public fragment${p.fragments.length === 1 ? "" : "s"}${p.personal ? " + the personal one" : ""}, no <esi: left, private, no-cache)`
    : "X-Cache: HIT, the template's exact bytes and Content-Length checked before and after";
  m.notes.push(`${checked}; every measured response's body checked too (${p.personal ? "the exact page, the personal fragment's counter aside" : "the exact page"}: `
    + `${m.mismatches ?? 0} mismatches); the origin saw 0 requests for the template${p.fragments.length ? " and public fragments" : ""} during the run`
    + `${p.marked ? "; 0 failed includes logged" : ""}`);
  if (p.personal) {
    // The second counter read is one request itself; tails of the warm-up and of the run may reach the origin uncounted as pages.
    const seen = personalAfter - personalBefore - 1;
    expect(seen >= m.requests, `${where}: the origin saw ${seen} requests for ${PERSONAL_FRAGMENT} for ${m.requests} pages: some pages did not fetch it`);
    expect(seen <= m.requests + 2 * s.connections,
      `${where}: the origin saw ${seen} requests for ${PERSONAL_FRAGMENT} for ${m.requests} pages: more than one per page`);
    await expectCookieForwarded(origin.url, `${p.run} after the run`);
    findings.personalOriginRequests = seen;
    findings.personalPerPage = m.requests > 0 ? seen / m.requests : Number.NaN;
    m.notes.push(`the origin saw ${seen} requests for the personal fragment for ${m.requests} pages, each with the visitor's cookie (sampled)`);
  }
  m.esi = findings;
  return m;
}

/** The origin alone on the personal fragment's path, with the visitor's cookie (what esi-personal adds per page). */
async function runOrigin(origin: OriginProcess, s: LoadSettings): Promise<EsiMeasured> {
  const url = origin.url + PERSONAL_FRAGMENT;
  const sample = await get(url, ESI_COOKIE);
  expect(sample.status === 200 && PERSONAL_BODY.test(sample.body), `esi-origin: ${url}: expected 200 "${PERSONAL_FRAGMENT} #n", got ${sample.status}: ${sample.body.slice(0, 100)}`);
  const m: EsiMeasured = await measure(s, {
    target: "esi-origin", description: ESI_DESCRIPTIONS["esi-origin"], base: origin.url, path: PERSONAL_FRAGMENT, warmPath: PERSONAL_FRAGMENT,
    unique: false, headers: { cookie: ESI_COOKIE }, verifyBody: (body) => PERSONAL_BODY.test(body),
  });
  checkRun(m);
  m.notes.push(`the test origin answered the personal fragment's path directly (every body checked: its path and counter; ${m.mismatches ?? 0} mismatches)`);
  return m;
}

/** One ESI run (the profile uses single runs). */
export async function runEsiOne(run: EsiRun, worker: RunningWorker, origin: OriginProcess, s: LoadSettings): Promise<EsiMeasured> {
  return run === "esi-origin" ? runOrigin(origin, s) : runPage(worker, origin, PAGES[run], s);
}

/** The ESI target at one connection count: every run of ESI_RUNS, in order. */
export async function runEsi(worker: RunningWorker, origin: OriginProcess, s: LoadSettings): Promise<EsiMeasured[]> {
  const out: EsiMeasured[] = [];
  for (const run of ESI_RUNS) out.push(await runEsiOne(run, worker, origin, s));
  return out;
}
