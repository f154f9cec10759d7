/**
 * Hono wiring: middleware first (the `/__edge` guard, the request log), then the worker's own
 * endpoints (health, purge, explain), then every other request through the cache pipeline. One
 * onError logs unexpected failures and answers a bare 500 without internals.
 */
import { Hono } from "hono/tiny";
import type { MiddlewareHandler } from "hono";
import { type Config, ConfigError } from "./config.ts";
import type { Env } from "./env.ts";
import { explain, explainJson } from "./explain.ts";
import { inWorkerNamespace } from "./namespace.ts";
import { keyHash, logFault, logRequest } from "./log.ts";
import { LOOP_HEADER } from "./origin.ts";
import { handlePurge } from "./purge/api.ts";
import { authenticate, createFailureLimiter, tokenMatches } from "./purge/auth.ts";
import type { PurgeCoordinator } from "./purge/coordinator.ts";
import type { Trace } from "./runtime.ts";
import { type AppRuntime, buildRuntime } from "./wiring.ts";

export { inWorkerNamespace };

/** Shortest PURGE_TOKEN accepted: a guessable token is worse than none. */
export const MIN_PURGE_TOKEN_LENGTH = 16;

/** Secrets are not part of the parsed config (they never reach logs), but are checked as early. */
export function validateSecrets(env: Env): void {
  for (const name of ["PURGE_TOKEN", "EXPLAIN_TOKEN"] as const) {
    const token = env[name];
    if (token !== undefined && token !== "" && token.length < MIN_PURGE_TOKEN_LENGTH) {
      throw new ConfigError(`${name} must be at least ${MIN_PURGE_TOKEN_LENGTH} characters (the token itself is not shown)`);
    }
  }
}

export interface AppOptions {
  /** Clock in ms (tests inject one). */
  now?: () => number;
}

type AppEnv = { Bindings: Env; Variables: { trace: Trace } };

/** Build the app for one validated configuration. Bindings are read from `env` on the first request. */
export function createApp(config: Config, options: AppOptions = {}) {
  const now = options.now ?? Date.now;
  const app = new Hono<AppEnv>();
  const limiter = createFailureLimiter(now);
  let runtime: AppRuntime | undefined;
  const runtimeFor = (env: Env) => {
    if (!runtime) validateSecrets(env);
    return (runtime ??= buildRuntime(config, env, now));
  };
  const ownPaths = new Set(["/__edge/health", config.purgePath, config.explainPath]);
  const cloudflarePurge = new RegExp(`^${config.cloudflareApiPath.replace(/[.]/g, "\\.")}/zones/([A-Za-z0-9_-]{1,64})/purge_cache$`);

  app.use("*", async (c, next) => {
    // The worker's own namespace: near misses ("/__edge/Purge", "//__edge/purge") are answered
    // here, never forwarded (they would carry a bearer token to the origin). And a request bearing
    // one of our tokens is never forwarded anywhere, whatever its path.
    const path = c.req.path;
    if (c.req.raw.headers.has(LOOP_HEADER)) return loopDetected(path);
    if (path === `${config.purgePath}/`) return c.redirect(config.purgePath, 308);
    if (ownPaths.has(path) || cloudflarePurge.test(path)) return next();
    const authorization = c.req.raw.headers.get("authorization");
    if (inWorkerNamespace(path) || (authorization !== null && (await bearsControlToken(authorization, c.env)))) return explainJson(404, { error: "not found" });
    return next();
  });
  app.use("*", requestLog(now));

  app.get("/__edge/health", async (c) => {
    const cacheApi = await runtimeFor(c.env).cacheApiHealth();
    return c.json({ ok: true, cacheVersion: config.cacheVersion, cacheApi }, 200, { "cache-control": "no-store" });
  });

  const purge = (env: Env, request: Request) => handlePurge(request, {
    config, secret: env.PURGE_TOKEN, limiter, view: runtimeFor(env).rt.purges, coordinator: coordinatorOf(env),
    zone: config.zoneId && env.CF_API_TOKEN ? { apiBase: config.zonePurgeApi, zoneId: config.zoneId, token: env.CF_API_TOKEN } : null,
  });
  app.all(config.purgePath, (c) => purge(c.env, c.req.raw));
  // Cloudflare's shape: POST {base}/zones/{zone_id}/purge_cache, any zone id, or the configured one.
  app.all(`${config.cloudflareApiPath}/zones/:zone/purge_cache`, (c) => {
    if (config.zoneId && c.req.param("zone") !== config.zoneId) return explainJson(404, { success: false, errors: [{ code: 7003, message: "no such zone" }], messages: [], result: null });
    return purge(c.env, c.req.raw);
  });

  app.all(config.explainPath, async (c) => {
    const secret = c.env.EXPLAIN_TOKEN || c.env.PURGE_TOKEN;
    if (!secret) return explainJson(404, { error: "not found: explain is disabled (set EXPLAIN_TOKEN or PURGE_TOKEN)" });
    if (c.req.method !== "GET") return explainJson(405, { error: "use GET" });
    const denied = await authenticate(c.req.raw, secret, limiter, config.purgeAllowIps);
    if (denied?.status === 403) return explainJson(403, { error: "forbidden" });
    if (denied?.status === 429) return explainJson(429, { error: `too many failed authentications; retry in ${denied.retryAfter} s` });
    if (denied) return explainJson(401, { error: "authentication error" });
    const rt = runtimeFor(c.env);
    return explain(c.req.query("url") ?? null, c.req.raw.headers, c.req.query("method")?.toUpperCase() ?? "GET", rt.rt, await rt.cacheApiHealth());
  });

  app.all("*", (c) => {
    const ctx = c.executionCtx;
    return runtimeFor(c.env).pipeline(c.req.raw, { waitUntil: (p) => ctx.waitUntil(p), trace: c.get("trace") });
  });

  app.onError((err, c) => {
    logFault("app", err, { path: new URL(c.req.url).pathname });
    return c.text("Internal error in edge-cache\n", 500, { "cache-control": "no-store" });
  });
  return app;
}

/** The purge coordinator (one per namespace), or why there is none. */
function coordinatorOf(env: Env): { stub: DurableObjectStub<PurgeCoordinator> } | { missing: string } {
  if (!env.PURGES) return { missing: "the PURGES Durable Object namespace is not bound (wrangler.toml)" };
  if (!env.TAGS) return { missing: "the TAGS KV namespace is not bound: a purge could not reach other locations" };
  return { stub: env.PURGES.get(env.PURGES.idFromName(COORDINATOR_NAME)) };
}

/** The one coordinator's name. */
export const COORDINATOR_NAME = "purge-coordinator";

/**
 * One of our own origin requests came back to us: ORIGIN_URL is empty and the worker is not on a
 * route (a Custom Domain or workers.dev sends the request's own URL back to the worker).
 */
function loopDetected(path: string): Response {
  logFault("origin-loop", new Error("an origin request came back to the worker: set ORIGIN_URL (README: Deploy)"), { path });
  return new Response("Loop Detected: this worker fetched its own URL. Set ORIGIN_URL unless it runs on a route in front of its origin.\n", {
    status: 508, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** Does this Authorization header carry the purge or explain token (compared in constant time)? */
async function bearsControlToken(authorization: string, env: Env): Promise<boolean> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) return false;
  const secrets = [env.PURGE_TOKEN, env.EXPLAIN_TOKEN].filter((t): t is string => !!t);
  const matches = await Promise.all(secrets.map((t) => tokenMatches(m[1]!, t)));
  return matches.some(Boolean);
}

/** This worker's X-Cache value: the last member ("HIT, MISS" from the shield is a MISS here; the shield's answer is logged apart). */
function ownXCache(value: string | null): string {
  if (!value) return "";
  const comma = value.lastIndexOf(",");
  return comma === -1 ? value : value.slice(comma + 1).trim();
}

/** One JSON log line (and Analytics Engine data point) per request, when logging is on; nothing otherwise. */
function requestLog(now: () => number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const toConsole = c.env.LOG_REQUESTS !== "false";
    // Logging off: nothing is traced, timed or counted.
    if (!toConsole && !c.env.ANALYTICS) return next();
    const trace: Trace = {};
    c.set("trace", trace);
    const started = now();
    await next();
    const res = c.res;
    const url = new URL(c.req.url);
    const detail = /detail=("[^"]*"|[^;,\s]+)/.exec(res.headers.get("cache-status") ?? "")?.[1] ?? "";
    const log = (bytes: number) => logRequest({
      event: "request", ts: new Date().toISOString(), method: c.req.method, host: url.host, path: url.pathname,
      status: res.status, cache: ownXCache(res.headers.get("x-cache")), detail: detail.replace(/"/g, ""), rule: trace.rule ?? "-",
      key: trace.key ? keyHash(trace.key) : "", originMs: trace.originMs ?? 0, originAsked: trace.originAsked ?? false, shield: trace.shield ?? "",
      totalMs: now() - started, bytes,
      colo: String((c.req.raw as { cf?: { colo?: string } }).cf?.colo ?? ""),
    }, c.env.ANALYTICS, toConsole);
    // The body's length: known before sending, or (a miss streamed without one) as the store read it,
    // or -1. Never counted chunk by chunk: that would cost CPU per chunk on every miss.
    const length = res.headers.get("content-length");
    if (!res.body) log(0);
    else if (length !== null && /^\d+$/.test(length)) log(Number(length));
    else if (trace.filled) c.executionCtx.waitUntil(trace.filled.then(log));
    else log(-1);
  };
}
