/**
 * Hono wiring: the worker's own endpoints first (health, purge), then every other request through
 * the cache pipeline. One onError logs unexpected failures and answers a bare 500 without internals.
 */
import { Hono } from "hono";
import { type Config, ConfigError } from "./config.ts";
import type { Env } from "./env.ts";
import { keyOptionsFor } from "./key.ts";
import { logFault, logRequest } from "./log.ts";
import { hashHex } from "./tags.ts";
import { createOriginClient, type OriginClient } from "./origin.ts";
import { createPipeline, type Pipeline } from "./pipeline.ts";
import { explain, explainJson } from "./explain.ts";
import { authenticate, createFailureLimiter, handlePurge } from "./purge.ts";
import { withMemoryTier } from "./store/memory.ts";
import { createTagIndex, type TagIndex } from "./store/tag-index.ts";
import { cloudflareZonePurger, type ZonePurger } from "./zone-purge.ts";

/**
 * Is this path the worker's own `/__edge` namespace, however it is spelled (`//__edge`, `%2F`,
 * `;`, case)? Such requests are answered here and never forwarded: they may carry a bearer token.
 */
export function inWorkerNamespace(path: string): boolean {
  let p = path;
  try {
    p = decodeURIComponent(path);
  } catch { /* malformed escapes: judge the raw path */ }
  p = p.toLowerCase().replace(/[;\s]+/g, "").replace(/\/{2,}/g, "/");
  return /^\/__edge(\/|$)/.test(p);
}

/** Largest object held in the isolate's memory tier. */
const MEMORY_OBJECT_MAX = 256 * 1024;

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
  /** Backoff base for zone purge retries (tests shorten it). */
  zonePurgeBackoffMs?: number;
}

/** What one isolate keeps per configuration: built on the first request, when bindings are known. */
interface Runtime {
  pipeline: Pipeline;
  origin: OriginClient;
  tagIndex: TagIndex;
  zonePurger: ZonePurger | null;
  openCache: () => Promise<Cache>;
}

/** Build the app for one validated configuration. Bindings are read from `env` on the first request. */
export function createApp(config: Config, options: AppOptions = {}) {
  const now = options.now ?? Date.now;
  const app = new Hono<{ Bindings: Env }>();
  const limiter = createFailureLimiter(now);
  let runtime: Runtime | undefined;

  function runtimeFor(env: Env): Runtime {
    if (runtime) return runtime;
    validateSecrets(env);
    let cachePromise: Promise<Cache> | undefined;
    // Memoised, but a failed open is forgotten so the next request tries again.
    const memory = { ttlMs: config.memoryCacheMs, maxBytes: config.memoryCacheBytes, maxObjectBytes: MEMORY_OBJECT_MAX, now };
    const openCache = () => (cachePromise ??= caches.open(config.cacheName).then((c) => withMemoryTier(c, memory), (e: unknown) => {
      cachePromise = undefined;
      throw e;
    }));
    const tagIndex = createTagIndex(env.TAGS, config.tagCheckMemoMs, now);
    const zonePurger = config.zoneId && env.CF_API_TOKEN
      ? cloudflareZonePurger({ apiBase: config.zonePurgeApi, zoneId: config.zoneId, token: env.CF_API_TOKEN, backoffMs: options.zonePurgeBackoffMs })
      : null;
    const origin = createOriginClient({ fetcher: config.origins.length ? undefined : env.ORIGIN, baseUrls: config.origins }, config.originTimeoutMs, config.originCooldownMs, now);
    runtime = { pipeline: createPipeline({ config, now, origin, tagIndex, openCache }), origin, tagIndex, zonePurger, openCache };
    return runtime;
  }

  app.get("/__edge/health", (c) => c.json({ ok: true, cacheVersion: config.cacheVersion }, 200, { "cache-control": "no-store" }));

  app.all(config.purgePath, (c) => {
    const rt = runtimeFor(c.env);
    return handlePurge(c.req.raw, c.env.PURGE_TOKEN, limiter, {
      config,
      keyOptions: keyOptionsFor(config),
      tagIndex: rt.tagIndex,
      zonePurger: rt.zonePurger,
      openCache: rt.openCache,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
    });
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
    return explain(c.req.query("url") ?? null, c.req.raw.headers, c.req.query("method")?.toUpperCase() ?? "GET", {
      config, tagIndex: rt.tagIndex, origin: rt.origin, openCache: rt.openCache, now,
    });
  });

  // The worker's own namespace: near misses ("/__edge/purge/", "/__edge/Purge") are answered here,
  // never forwarded (they would carry a bearer token to the origin).
  app.all(`${config.purgePath}/`, (c) => c.redirect(config.purgePath, 308));
  app.all("/__edge/*", () => explainJson(404, { error: "not found" }));

  app.all("*", async (c) => {
    if (inWorkerNamespace(c.req.path)) return explainJson(404, { error: "not found" });
    const started = now();
    const trace: { rule?: string; key?: string; originMs?: number } = {};
    const ctx = c.executionCtx;
    const res = await runtimeFor(c.env).pipeline(c.req.raw, { waitUntil: (p) => ctx.waitUntil(p), trace });
    const toConsole = c.env.LOG_REQUESTS !== "false";
    if (!toConsole && !c.env.ANALYTICS) return res;
    const url = new URL(c.req.url);
    const detail = /detail=("[^"]*"|[^;,\s]+)/.exec(res.headers.get("cache-status") ?? "")?.[1] ?? "";
    const key = trace.key ? (await hashHex(trace.key)).slice(0, 12) : "";
    const log = (bytes: number) => logRequest({
      event: "request", ts: new Date().toISOString(), method: c.req.method, host: url.host, path: url.pathname,
      status: res.status, cache: res.headers.get("x-cache") ?? "", detail: detail.replace(/"/g, ""), rule: trace.rule ?? "-", key,
      originMs: trace.originMs ?? 0, totalMs: now() - started, bytes, colo: String((c.req.raw as { cf?: { colo?: string } }).cf?.colo ?? ""),
    }, c.env.ANALYTICS, toConsole);
    const length = res.headers.get("content-length");
    if (length !== null || !res.body) {
      log(length !== null ? Number(length) : 0);
      return res;
    }
    // A streamed body (a miss): count what is sent, and log once it has gone (-1 if it broke off).
    let bytes = 0;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    ctx.waitUntil(res.body.pipeTo(counter.writable).then(() => log(bytes), () => log(-1)));
    return new Response(counter.readable, res);
  });

  app.onError((err, c) => {
    logFault("app", err, { path: new URL(c.req.url).pathname });
    return c.text("Internal error in edge-cache\n", 500, { "cache-control": "no-store" });
  });
  return app;
}
