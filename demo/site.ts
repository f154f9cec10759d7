/**
 * The demo origin: a tiny blog, standing in for a Django app. A plain fetch handler, so it runs
 * as a Worker (demo/worker.ts, under `npm start`) and inside the Node test origin alike.
 *
 * Every response carries `X-Origin-Hits` (how many requests reached the origin so far) so you can
 * see a HIT leave it unchanged, and pages carry `Cache-Tag` headers as a Django middleware would.
 * Like most Django views, pages send no Cache-Control: the edge's path rules fill it in.
 */

interface Post { id: number; slug: string; title: string; category: string; author: number; body: string }

const POSTS: Post[] = [
  { id: 1, slug: "hello-edge", title: "Hello, edge", category: "news", author: 7, body: "Our first post, served from the edge." },
  { id: 2, slug: "cache-tags", title: "Cache tags explained", category: "engineering", author: 7, body: "Purge every page that shows a post at once." },
  { id: 42, slug: "answer", title: "The answer", category: "engineering", author: 9, body: "Forty-two, cached for thirty minutes." },
];

// 1x1 transparent GIF: small, valid image bytes for /media/.
const PIXEL = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (c) => c.charCodeAt(0));

let hits = 0;

/** Tags a Django middleware would set for a post page. */
export function postTags(p: Post): string[] {
  return [`post_${p.id}`, `category_${p.category}`, `author_${p.author}`];
}

function page(title: string, body: string, n: number, user = ""): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
    `<link rel="stylesheet" href="/static/app.css"></head><body>${user}<h1>${title}</h1>${body}` +
    `<footer>rendered by the origin, request #${n}</footer></body></html>\n`;
}

function html(status: number, title: string, body: string, n: number, tags: string[], extra: HeadersInit = {}, user = ""): Response {
  const headers = new Headers(extra);
  headers.set("content-type", "text/html; charset=utf-8");
  if (tags.length) headers.set("cache-tag", tags.join(","));
  return new Response(page(title, body, n, user), { status, headers });
}

/** The visitor's name: in this demo, the session cookie's value ("sessionid=alice" is alice). */
function visitor(request: Request): string | undefined {
  return /(?:^|;\s*)sessionid=([^;]+)/.exec(request.headers.get("cookie") ?? "")?.[1];
}

/** The personal part of every blog page: who is signed in. */
function userBox(request: Request): string {
  const name = visitor(request);
  return `<nav class="user">${name ? `Signed in as ${escape(name)}` : `<a href="/login/">Sign in</a>`}</nav>`;
}

/**
 * A blog page with its personal part: as an ESI include when the edge says it assembles ESI
 * (Surrogate-Capability, as Django's {% edge_include %} does), so the page itself is the same for
 * everyone and cacheable; rendered inline otherwise.
 */
function blogPage(request: Request, status: number, title: string, body: string, n: number, tags: string[]): Response {
  if (/ESI\/1\.0/.test(request.headers.get("surrogate-capability") ?? "")) {
    return html(status, title, body, n, tags, { "surrogate-control": 'content="ESI/1.0"' }, `<esi:include src="/fragments/user/" onerror="continue"/>`);
  }
  // Rendered for this visitor: a signed-in page is theirs alone.
  return html(status, title, body, n, tags, visitor(request) ? { "cache-control": "private" } : {}, userBox(request));
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Handle one request as the origin would. */
export function demoSite(request: Request): Response {
  const n = ++hits;
  const url = new URL(request.url);
  const path = url.pathname;
  const res = route(request, url, path, n);
  const headers = new Headers(res.headers);
  headers.set("x-origin-hits", String(n));
  headers.set("server", "demo-origin/1.0");
  headers.set("x-powered-by", "demo");
  if (!headers.has("date")) headers.set("date", new Date().toUTCString());
  return new Response(request.method === "HEAD" ? null : res.body, { status: res.status, headers });
}

function route(request: Request, url: URL, path: string, n: number): Response {
  if (path === "/") {
    const items = POSTS.map((p) => `<li><a href="/blog/${p.slug}/">${escape(p.title)}</a></li>`).join("");
    return blogPage(request, 200, "Edge blog", `<ul>${items}</ul>`, n, ["home", ...POSTS.flatMap(postTags)]);
  }
  const blog = /^\/blog\/([a-z0-9-]+)\/$/.exec(path);
  if (blog) {
    const post = POSTS.find((p) => p.slug === blog[1]);
    if (!post) return html(404, "Not found", "<p>No such post.</p>", n, []);
    return blogPage(request, 200, escape(post.title), `<p>${escape(post.body)}</p>`, n, postTags(post));
  }
  if (path === "/api/posts/") {
    const body = JSON.stringify({ count: POSTS.length, results: POSTS.map(({ body: _b, ...p }) => p), rendered: n });
    return new Response(body, {
      headers: { "content-type": "application/json", "cache-tag": ["posts", ...POSTS.map((p) => `post_${p.id}`)].join(",") },
    });
  }
  if (path === "/static/app.css") {
    return new Response(`body{font-family:system-ui;max-width:40rem;margin:2rem auto}/* #${n} */\n`, {
      headers: { "content-type": "text/css; charset=utf-8" },
    });
  }
  if (path === "/media/x.jpg" || path === "/media/pixel.gif") {
    return new Response(PIXEL, { headers: { "content-type": "image/gif" } });
  }
  if (path === "/admin" || path.startsWith("/admin/")) {
    return html(200, "Admin", "<p>Staff only.</p>", n, [], { "cache-control": "private, no-store" });
  }
  if (path === "/debug/headers") {
    // What the origin received, after the edge: shows stripped cookies and forwarded headers.
    const seen: Record<string, string> = {};
    request.headers.forEach((v, k) => { seen[k] = v; });
    return new Response(JSON.stringify({ method: request.method, url: request.url, headers: seen }, null, 2) + "\n", {
      headers: { "content-type": "application/json", "cache-control": "private, no-store" },
    });
  }
  if (path === "/fragments/user/") {
    // The personal fragment: private (never shared), whatever rule it is under.
    return new Response(userBox(request), { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "private, no-store" } });
  }
  if (path === "/account/") {
    const cookie = request.headers.get("cookie") ?? "";
    const session = /(?:^|;\s*)sessionid=([^;]+)/.exec(cookie)?.[1];
    return html(200, "Your account", session ? `<p>Signed in (session ${escape(session)}).</p>` : "<p>Not signed in.</p>", n, [], {
      "cache-control": "private", vary: "Cookie",
    });
  }
  if (path === "/login/") {
    // Sets a session cookie: a response that must never be shared.
    return html(200, "Signed in", "<p>Welcome back.</p>", n, [], { "set-cookie": `sessionid=demo${n}; Path=/; HttpOnly; SameSite=Lax` });
  }
  if (path === "/sitemap.xml") {
    // For `npm run warm -- --sitemap /sitemap.xml`: absolute URLs on the host that was asked.
    const base = `${url.protocol}//${request.headers.get("x-forwarded-host") ?? url.host}`;
    const urls = ["/", ...POSTS.map((p) => `/blog/${p.slug}/`), "/api/posts/"];
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n`
      + urls.map((u) => `  <url><loc>${base}${u}</loc></url>`).join("\n") + "\n</urlset>\n";
    return new Response(body, { headers: { "content-type": "application/xml; charset=utf-8" } });
  }
  if (path === "/health") return new Response("ok\n", { headers: { "content-type": "text/plain" } });
  return html(404, "Not found", "<p>Nothing here.</p>", n, []);
}
