/**
 * Building an isolate's runtime from the compiled configuration and the bindings: the tiers
 * (memory, then the Cache API), the tag index, the origin client, the coalescer, the writer,
 * the pipeline over them, and the optional zone purger. Done once per configuration and isolate.
 */
import { createCoalescer } from "./coalesce.ts";
import type { Config } from "./config.ts";
import type { Env } from "./env.ts";
import { createOriginClient } from "./origin.ts";
import { createPipeline, type Pipeline } from "./pipeline.ts";
import type { Runtime } from "./runtime.ts";
import { logFault } from "./log.ts";
import { type CacheApiHealth, cacheApiTier, probeCacheApi } from "./store/cache-api.ts";
import { byteBudget, ISOLATE_BUFFER_BYTES } from "./store/entries.ts";
import { memoryTier } from "./store/memory.ts";
import { createPurgeView } from "./purge/view.ts";
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

export function buildRuntime(config: Config, env: Env, now: () => number): AppRuntime {
  const memory = memoryTier({ ttlMs: config.memoryCacheMs, maxBytes: config.memoryCacheBytes, maxObjectBytes: MEMORY_OBJECT_MAX, now });
  const tiers: Tier[] = [...(memory ? [memory] : []), cacheApiTier(config.cacheName, now)];
  const store = tieredStore(tiers, now);
  const budget = byteBudget(ISOLATE_BUFFER_BYTES);
  // ORIGIN_URL, when set, wins over a service binding (the demo's), so wrangler dev can front any local app.
  const origin = createOriginClient({ fetcher: config.origins.length ? undefined : env.ORIGIN, baseUrls: config.origins }, config.originTimeoutMs, config.originCooldownMs, now);
  const rt: Runtime = {
    config, now, store, origin,
    purges: createPurgeView(env.TAGS, config.tagCheckMemoMs, now),
    // A lead older than twice the origin timeout plus the body's read is stale: released, never leaked.
    coalescer: createCoalescer(config.originTimeoutMs * 4, now),
    writer: createWriter(config, store, now, budget),
    refreshing: new Map(),
    buffers: budget,
  };
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
