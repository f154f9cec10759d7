/**
 * The baseline workers our worker is compared with, as source. Each one is the least code that
 * does the same job, so a ratio says what our code costs on top of that job:
 *   bare       a constant response: the floor for a HIT (the cache lookup, headers, the memory tier);
 *   proxy      fetch the origin, return its response: the floor for a MISS without storing;
 *   proxy-put  the same plus tee and Cache API put in waitUntil, as our MISS path does: separates
 *              what our code costs from what Miniflare's Cache API simulator costs;
 *   bare Hono  the smallest Hono app: the floor for bundle size and startup (Hono is a fixed choice).
 */

/** Name of the Cache API cache the proxy-put baseline writes to. */
export const PROXY_PUT_CACHE = "bench-proxy-put";

/** `new Response("ok")`, nothing else. */
export const BARE_WORKER = `export default { fetch() { return new Response("ok"); } };\n`;

/** Forward path and query to env.ORIGIN_URL, return the origin's response as it streams. */
export const PROXY_WORKER = `export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search);
  },
};
`;

/**
 * Forward like PROXY_WORKER, tee the body, store one branch with caches.open(...).put in
 * waitUntil (with a lifetime, or the simulator would not keep it), return the other. The cache is
 * opened once per isolate, as our worker does. GET /__match?url=<url> says whether <url> is stored
 * (the bench's check that the put really happens).
 */
export const PROXY_PUT_WORKER = `let opened;
const open = () => (opened ??= caches.open(${JSON.stringify(PROXY_PUT_CACHE)}));
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__match") {
      const hit = await (await open()).match(url.searchParams.get("url"));
      return new Response(hit ? "HIT" : "MISS");
    }
    const res = await fetch(env.ORIGIN_URL + url.pathname + url.search);
    if (!res.body) return res;
    const [toClient, toCache] = res.body.tee();
    const stored = new Response(toCache, res);
    stored.headers.set("cache-control", "public, max-age=3600");
    ctx.waitUntil(open().then((cache) => cache.put(request.url, stored)));
    return new Response(toClient, res);
  },
};
`;

/** The bare Hono worker of the issue, built by wrangler like ours (TypeScript entry). */
export const BARE_HONO_SOURCE = `import { Hono } from "hono";
const app = new Hono();
app.get("*", (c) => c.text("ok"));
export default app;
`;
