/**
 * Storage tiers and the tiered store (I/O). A tier only reads, writes and deletes objects by key:
 * no HTTP semantics inside (freshness, purges and Vary are decided above it, from the metadata).
 * Every tier passes the same contract suite (src/store/tier.contract.ts).
 *
 * The tiered store reads through its tiers in order (memory, then the Cache API, later a shield),
 * backfills the faster tiers with what a slower one had (for the object's remaining lifetime), and
 * writes and deletes through all of them.
 */
import { logFault } from "../log.ts";
import { bodyBytes, expiryOf, type Stored } from "./entries.ts";

export type TierName = "memory" | "cache-api" | "shield";

export interface Tier {
  readonly name: TierName;
  /** The object under `key`, or null. Objects past their `keepUntil` are never returned. */
  get(key: string): Promise<Stored | null>;
  /** Store (or replace) an object until its `keepUntil`. Rejects when the tier cannot store it. */
  put(key: string, value: Stored): Promise<void>;
  /** Remove the object; true when there was one. */
  delete(key: string): Promise<boolean>;
  /** Largest body this tier holds, bytes (the tiered store reads a stream whole to backfill a tier that takes bytes only). */
  readonly maxBodyBytes?: number;
  /**
   * Store an object whose body streams in (too large to hold whole), verifying its length: `size`
   * bytes exactly when it is ≥ 0, at most `limit`. Rejects, and keeps nothing, when the body fails
   * or does not add up. Tiers without it do not take large objects.
   */
  putStream?(key: string, value: Stored, body: ReadableStream<Uint8Array>, limit: number): Promise<void>;
}

export interface Found<T extends Stored = Stored> {
  value: T;
  /** The tier that answered. */
  tier: TierName;
}

export interface TieredStore {
  get(key: string): Promise<Found | null>;
  put(key: string, value: Stored): Promise<void>;
  /** Store a large object as it streams in, in the tiers that take streams (the others drop their copy). */
  putStream(key: string, value: Stored, body: ReadableStream<Uint8Array>, limit: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  readonly tiers: readonly TierName[];
}

/** Compose tiers, fastest first. Faults in a tier are logged and skipped: a broken tier is a slower cache, not an error. */
export function tieredStore(tiers: readonly Tier[], now: () => number): TieredStore {
  async function backfill(upTo: number, key: string, value: Stored): Promise<Stored> {
    if (expiryOf(value) <= now() || upTo === 0) return value;
    let v = value;
    for (let i = 0; i < upTo; i++) {
      const tier = tiers[i]!;
      if (tier.maxBodyBytes !== undefined) {
        if (v.size < 0 || v.size > tier.maxBodyBytes) continue;
        if (!(v.body instanceof Uint8Array) && v.body !== null) v = { ...v, body: await bodyBytes(v) };
      }
      await tier.put(key, v).catch((e: unknown) => logFault(`${tier.name}.put`, e, { key }));
    }
    return v;
  }

  return {
    tiers: tiers.map((t) => t.name),
    async get(key) {
      for (let i = 0; i < tiers.length; i++) {
        const tier = tiers[i]!;
        let value: Stored | null;
        try {
          value = await tier.get(key);
        } catch (e) {
          if (i === tiers.length - 1) throw e;
          logFault(`${tier.name}.get`, e, { key });
          continue;
        }
        if (value) return { value: i === 0 ? value : await backfill(i, key, value), tier: tier.name };
      }
      return null;
    },
    async put(key, value) {
      // Slowest first: a faster tier never holds what a slower one refused.
      let v = value;
      if (v.body !== null && !(v.body instanceof Uint8Array)) v = { ...v, body: await bodyBytes(v) };
      for (let i = tiers.length - 1; i >= 0; i--) {
        const tier = tiers[i]!;
        if (tier.maxBodyBytes !== undefined && v.size > tier.maxBodyBytes) {
          await tier.delete(key);
          continue;
        }
        await tier.put(key, v);
      }
    },
    async putStream(key, value, body, limit) {
      const streaming = tiers.filter((t) => t.putStream);
      await Promise.all(tiers.filter((t) => !t.putStream).map((t) => t.delete(key)));
      if (streaming.length === 0) return void (await body.cancel());
      // One body, one streaming tier (the slowest: the one that outlives the others).
      await streaming[streaming.length - 1]!.putStream!(key, value, body, limit);
    },
    async delete(key) {
      const results = await Promise.all(tiers.map((t) => t.delete(key).catch(() => false)));
      return results.some(Boolean);
    },
  };
}
