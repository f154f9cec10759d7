/**
 * Entry point. The configuration is validated when the module loads (so `wrangler deploy` and
 * `wrangler dev` fail at once, naming the bad field) and the app is built once per configuration.
 */
import { env as moduleEnv } from "cloudflare:workers";
import { createApp, validateSecrets } from "./app.ts";
import { parseConfig } from "./config.ts";
import type { Env } from "./env.ts";

type App = ReturnType<typeof createApp>;

const byEnv = new WeakMap<object, App>();
const byConfig = new Map<string, App>();

/** The vars that make up the configuration, as one string (a new env object with the same vars reuses the app). */
function fingerprint(env: Env): string {
  const raw = typeof env.EDGE_CONFIG === "string" ? env.EDGE_CONFIG : JSON.stringify(env.EDGE_CONFIG ?? null);
  return `${raw}\u0000${env.ORIGIN_URL ?? ""}\u0000${env.CACHE_VERSION ?? ""}`;
}

function appFor(env: Env): App {
  let app = byEnv.get(env);
  if (app) return app;
  validateSecrets(env);
  const fp = fingerprint(env);
  app = byConfig.get(fp);
  if (!app) {
    app = createApp(parseConfig(env));
    byConfig.set(fp, app);
  }
  byEnv.set(env, app);
  return app;
}

// Fail at load time, not on the first request.
appFor(moduleEnv as Env);

// Durable Object classes must be exported by the main module.
export { PurgeCoordinator } from "./purge/coordinator.ts";
export { OriginShield } from "./shield/object.ts";

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    return appFor(env).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
