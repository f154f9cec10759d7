/**
 * Request coalescing (per isolate): concurrent misses for one key make one origin request. The
 * first request (the leader) fetches and stores; the others wait for the leader's stored result,
 * bounded in time, and go to the origin themselves if it is not shareable (private, failed, too
 * large) or takes too long. Every lead is settled in a `finally`, so nothing leaks when the origin fails.
 */

import type { StoredEntry } from "./store/entries.ts";

/** What a leader shares: the stored entry, its body as bytes. */
export interface SharedFill {
  entry: StoredEntry;
  /** The key it was stored under. */
  storeKey: string;
}

/** Keys in flight at most (beyond it requests are not coalesced, never refused). */
export const MAX_INFLIGHT_KEYS = 1000;

export interface Coalescer {
  /** The in-flight fill for `key`, if any. */
  pending(key: string): Promise<SharedFill | null> | undefined;
  /** Become the leader for `key`; returns the settle function, or null when someone leads already or the map is full. */
  lead(key: string): ((fill: SharedFill | null) => void) | null;
  size(): number;
}

/**
 * `maxAgeMs` bounds how long a lead may stay in flight: past it, the lead is dropped and waiters
 * released, even if the leader's background work was cut off before it could settle.
 */
export function createCoalescer(maxAgeMs: number, now: () => number, maxKeys = MAX_INFLIGHT_KEYS): Coalescer {
  const inflight = new Map<string, { promise: Promise<SharedFill | null>; since: number; release: () => void }>();
  const live = (key: string) => {
    const lead = inflight.get(key);
    if (lead && now() - lead.since > maxAgeMs) {
      lead.release();
      return undefined;
    }
    return lead;
  };
  return {
    pending: (key) => live(key)?.promise,
    lead(key) {
      if (live(key)) return null;
      if (inflight.size >= maxKeys) for (const k of [...inflight.keys()]) live(k); // sweep expired leads
      if (inflight.size >= maxKeys) return null;
      let resolve!: (fill: SharedFill | null) => void;
      const promise = new Promise<SharedFill | null>((r) => { resolve = r; });
      let settled = false;
      const settle = (fill: SharedFill | null) => {
        if (settled) return;
        settled = true;
        if (inflight.get(key)?.promise === promise) inflight.delete(key);
        resolve(fill);
      };
      inflight.set(key, { promise, since: now(), release: () => settle(null) });
      return settle;
    },
    size: () => inflight.size,
  };
}

/** What `waitFor` returns when the wait ran out. */
export const TIMED_OUT = Symbol("timed out");

/** Wait for a promise at most `ms`; TIMED_OUT when it has not settled by then. */
export async function waitFor<T>(pending: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((r) => { timer = setTimeout(() => r(TIMED_OUT), ms); });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
