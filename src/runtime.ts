/**
 * What one isolate keeps per configuration, built on the first request (when bindings are known)
 * and handed to every phase: the compiled config, the clock, the tiered store, the tag index, the
 * origin client, the coalescer and the entry writer.
 */
import type { Coalescer } from "./coalesce.ts";
import type { Config } from "./config.ts";
import type { OriginClient } from "./origin.ts";
import type { ByteBudget } from "./store/entries.ts";
import type { PurgeView } from "./purge/view.ts";
import type { TieredStore } from "./store/tier.ts";
import type { Writer } from "./store/writer.ts";
import type { ShieldClient } from "./shield/client.ts";

export interface Runtime {
  config: Config;
  /** Clock (ms); injectable so tests control time. */
  now: () => number;
  store: TieredStore;
  /** Purges, as this isolate knows them (the journal in KV, its own, per-tag keys). */
  purges: PurgeView;
  origin: OriginClient;
  coalescer: Coalescer;
  writer: Writer;
  /** Bytes this isolate holds at once in bodies it reads whole. */
  buffers: ByteBudget;
  /** Keys being refreshed in the background (stale-while-revalidate), each until a deadline. */
  refreshing: Map<string, number>;
  /**
   * Keys whose shared copy a visitor could not use (not an ESI template, or not storable), until a
   * deadline: that visitor's next requests go straight to the origin (Varnish's hit-for-pass).
   */
  hitForPass: Map<string, number>;
  /** The origin shield, when enabled: misses ask it instead of the origin. */
  shield: ShieldClient | null;
}

/** Facts a request notes for its log line. */
export interface Trace {
  rule?: string;
  key?: string;
  originMs?: number;
  /** The origin was asked for this request (by us, or by the shield on our behalf). */
  originAsked?: boolean;
  /** What the shield answered ("hit", "miss", ..., or "unavailable" when it was bypassed). */
  shield?: string;
  /** A fill's body size as the store read it (-1 when not known): the log's byte count for a streamed miss. */
  filled?: Promise<number>;
}

/** What a single invocation offers: background work that outlives the response, and a place to note facts for the log. */
export interface Invocation {
  waitUntil(promise: Promise<unknown>): void;
  trace?: Trace;
}

/** Exhaustiveness check: a verdict kind no switch handles is a compile error here. */
export function unreachable(value: never): never {
  throw new Error(`unhandled verdict: ${JSON.stringify(value)}`);
}
