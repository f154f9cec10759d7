import { env, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { shieldTier } from "../shield/tier.ts";
import { cacheApiTier } from "./cache-api.ts";
import { bodyBytes } from "./entries.ts";
import type { Tier } from "./tier.ts";
import { memoryTier } from "./memory.ts";
import { T0, tierContract } from "./tier.contract.ts";

function clocked<T>(build: (now: () => number) => T) {
  let now = T0;
  return { tier: build(() => now), setNow: (ms: number) => { now = ms; } };
}

tierContract("memory", () => clocked((now) => memoryTier({ ttlMs: 3_600_000, maxBytes: 1 << 20, maxObjectBytes: 1 << 16, now })!));
tierContract("cache-api", () => clocked((now) => cacheApiTier(`contract-${crypto.randomUUID()}`, now)));

/**
 * The shield's tier, run inside real shield objects (one per key, as in production): each call is
 * made in the key's object with its storage, and the R2 bucket when `withBucket`. Streams cannot
 * cross from one object's context to another's, so bodies cross as bytes and are streamed again
 * on the other side.
 */
function inShieldObjects(now: () => number, withBucket: boolean): Tier {
  const ns = (env as unknown as Env).SHIELD!;
  const bucket = withBucket ? (env as unknown as Env).SHIELD_BUCKET : undefined;
  const inObject = <T>(key: string, op: (t: Tier) => Promise<T>) =>
    runInDurableObject(ns.get(ns.idFromName(key)), (_o, state) => op(shieldTier({ storage: state.storage, bucket, now })));
  const tier: Tier = {
    name: "shield",
    get: (k) => inObject(k, async (t) => {
      const v = await t.get(k);
      return v && { ...v, body: v.body === null ? null : await bodyBytes(v) };
    }),
    put: (k, v) => inObject(k, (t) => t.put(k, v)),
    delete: (k) => inObject(k, (t) => t.delete(k)),
  };
  if (!withBucket) return { ...tier, maxBodyBytes: 1024 * 1024 };
  return {
    ...tier,
    async putStream(k, v, body, limit) {
      const bytes = await new Response(body).arrayBuffer();
      return inObject(k, (t) => t.putStream!(k, v, new Response(bytes).body!, limit));
    },
  };
}

tierContract("shield (Durable Object storage and R2)", () => clocked((now) => inShieldObjects(now, true)));
tierContract("shield (Durable Object storage only)", () => clocked((now) => inShieldObjects(now, false)));
