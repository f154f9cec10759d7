/** Bindings, vars and secrets the worker reads (see wrangler.toml). Written once, here. */
import type { ConfigVars } from "./config.ts";
import type { PurgeCoordinator } from "./purge/coordinator.ts";
import type { OriginShield } from "./shield/object.ts";

export interface Env extends ConfigVars {
  /** Optional service binding to the origin (the demo origin under `npm start`). */
  ORIGIN?: Fetcher;
  /** KV namespace the purge coordinator publishes purges to (the journal and per-tag keys). */
  TAGS?: KVNamespace;
  /** The purge coordinator (a Durable Object, one per namespace): the record of purges. */
  PURGES?: DurableObjectNamespace<PurgeCoordinator>;
  /** The origin shield (a Durable Object per key), used when `shield.enabled` is set. */
  SHIELD?: DurableObjectNamespace<OriginShield>;
  /** Optional R2 bucket for the shield's bodies over 1 MiB (without it, the shield keeps bodies up to 1 MiB). */
  SHIELD_BUCKET?: R2Bucket;
  /** Bearer token for the purge API (a secret: `wrangler secret put PURGE_TOKEN`). */
  PURGE_TOKEN?: string;
  /** Bearer token for the explain endpoint (a secret); PURGE_TOKEN is used when it is not set. */
  EXPLAIN_TOKEN?: string;
  /** Cloudflare API token with Cache Purge permission (a secret), used with CF_ZONE_ID for zone purge. */
  CF_API_TOKEN?: string;
  /** Optional Workers Analytics Engine dataset: one data point per request. */
  ANALYTICS?: AnalyticsEngineDataset;
  /** "false" turns off the per-request JSON log line (on by default). */
  LOG_REQUESTS?: string;
}
