import { cacheApiTier } from "./cache-api.ts";
import { memoryTier } from "./memory.ts";
import { T0, tierContract } from "./tier.contract.ts";

function clocked<T>(build: (now: () => number) => T) {
  let now = T0;
  return { tier: build(() => now), setNow: (ms: number) => { now = ms; } };
}

tierContract("memory", () => clocked((now) => memoryTier({ ttlMs: 3_600_000, maxBytes: 1 << 20, maxObjectBytes: 1 << 16, now })!));
tierContract("cache-api", () => clocked((now) => cacheApiTier(`contract-${crypto.randomUUID()}`, now)));
