/**
 * Hono wiring: the worker's own endpoints first, then every other request through the cache pipeline.
 * One onError logs unexpected failures and answers a bare 500 without internals.
 */
import { Hono } from "hono";
import type { Config } from "./config.ts";
import type { Env } from "./env.ts";
import { logFault } from "./log.ts";
import { createPipeline } from "./pipeline.ts";

export interface AppOptions {
  /** Clock in ms (tests inject one). */
  now?: () => number;
}

/** Build the app for one validated configuration. Bindings are read per request from `env`. */
export function createApp(config: Config, options: AppOptions = {}) {
  const now = options.now ?? Date.now;
  const app = new Hono<{ Bindings: Env }>();
  let pipeline: ReturnType<typeof createPipeline> | undefined;

  app.get("/__edge/health", (c) => c.json({ ok: true, cacheVersion: config.cacheVersion }, 200, { "cache-control": "no-store" }));

  app.all("*", (c) => {
    pipeline ??= createPipeline({ config, now, origin: { fetcher: c.env.ORIGIN, baseUrl: config.originUrl } });
    return pipeline(c.req.raw, c.executionCtx);
  });

  app.onError((err, c) => {
    logFault("app", err, { path: new URL(c.req.url).pathname });
    return c.text("Internal error in edge-cache\n", 500, { "cache-control": "no-store" });
  });
  return app;
}
