/**
 * Building an isolate's runtime from the compiled configuration and the bindings: the tiers
 * (memory, then the Cache API), the purge view, the origin client, the shield client when the
 * shield is on, the coalescer, the writer, and the pipeline over them. Done once per
 * configuration and isolate (a shield object builds its own over its storage: shield/object.ts).
 */
import { createCoalescer } from "./coalesce.ts";
import { type Config, ConfigError } from "./config.ts";
import type { Env } from "./env.ts";
import { createOriginClient, type OriginClient } from "./origin.ts";
import { createPipeline, type Pipeline } from "./pipeline.ts";
import type { Runtime } from "./runtime.ts";
import { logFault } from "./log.ts";
import { type CacheApiHealth, cacheApiTier, probeCacheApi } from "./store/cache-api.ts";
import { type ByteBudget, byteBudget, ISOLATE_BUFFER_BYTES } from "./store/entries.ts";
import { memoryTier } from "./store/memory.ts";
import { createPurgeView, type PurgeView } from "./purge/view.ts";
import { createShieldClient, type ShieldClient } from "./shield/client.ts";
import { type Tier, tieredStore } from "./store/tier.ts";
import { createWriter } from "./store/writer.ts";

/** Largest object held in the isolate's memory tier. */
export const MEMORY_OBJECT_MAX = 256 * 1024;

export interface AppRuntime {
  rt: Runtime;
  pipeline: Pipeline;
  /** Whether the Cache API keeps what it is given here (probed once per isolate, again after 5 minutes). */
  cacheApiHealth(): Promise<CacheApiHealth>;
}

/** How long a Cache API probe's answer is trusted. */
const PROBE_TTL_MS = 300_000;

/** What the runtimes of one configuration in an isolate share: the purge view, the origin client (and its health), the buffer budget. */
export interface IsolateParts {
  purges: PurgeView;
  origin: OriginClient;
  buffers: ByteBudget;
}

export function isolateParts(config: Config, env: Env, now: () => number): IsolateParts {
  return {
    purges: createPurgeView(env.TAGS, config.tagCheckMemoMs, now),
    // ORIGIN_URL, when set, wins over a service binding (the demo's), so wrangler dev can front any local app.
    origin: createOriginClient({ fetcher: config.origins.length ? undefined : env.ORIGIN, baseUrls: config.origins }, config.originTimeoutMs, config.originCooldownMs, now),
    buffers: byteBudget(ISOLATE_BUFFER_BYTES),
  };
}

/** A runtime over `tiers` (a location's: memory and the Cache API; a shield object's: its storage). */
export function runtimeOver(config: Config, tiers: readonly Tier[], parts: IsolateParts, now: () => number, shield: ShieldClient | null): Runtime {
  const store = tieredStore(tiers, now);
  return {
    config, now, store, shield, ...parts,
    // A lead older than twice the origin timeout plus the body's read is stale: released, never leaked.
    coalescer: createCoalescer(config.originTimeoutMs * 4, now),
    writer: createWriter(config, store, now, parts.buffers),
    refreshing: new Map(),
    hitForPass: new Map(),
  };
}

export function buildRuntime(config: Config, env: Env, now: () => number): AppRuntime {
  const memory = memoryTier({ ttlMs: config.memoryCacheMs, maxBytes: config.memoryCacheBytes, maxObjectBytes: MEMORY_OBJECT_MAX, now });
  const tiers: Tier[] = [...(memory ? [memory] : []), cacheApiTier(config.cacheName, now)];
  const rt = runtimeOver(config, tiers, isolateParts(config, env, now), now, shieldClientFor(config, env, now));
  let probe: { at: number; result: Promise<CacheApiHealth> } | undefined;
  const cacheApiHealth = () => {
    if (!probe || now() - probe.at > PROBE_TTL_MS) {
      const result = probeCacheApi(config.cacheName).then((h) => {
        if (h !== "ok") logFault("cache-api", new Error(`the Cache API is ${h} here: every request will go to the origin`));
        return h;
      });
      probe = { at: now(), result };
    }
    return probe.result;
  };
  return { rt, pipeline: createPipeline(rt), cacheApiHealth };
}

/** The shield client when the configuration enables the shield; its binding must then exist. */
function shieldClientFor(config: Config, env: Env, now: () => number): ShieldClient | null {
  if (!config.shield.enabled) return null;
  if (!env.SHIELD) throw new ConfigError("shield.enabled needs the SHIELD Durable Object binding (wrangler.toml: durable_objects.bindings, class OriginShield)");
  return createShieldClient(env.SHIELD, config, now);
}
