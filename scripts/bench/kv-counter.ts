/**
 * KV operations per request, counted by the bench wrapper around our worker (wrapper.ts; Miniflare
 * counts nothing): its env.TAGS counts every call on its way through, and GET /__bench/kv answers
 * the counts so far. The Durable Objects run with the unwrapped env, so the coordinator's own
 * writes are not counted (they are not per request).
 *
 * The counts are per isolate (module scope); the bench's Miniflare runs one isolate per worker.
 * A run's figure is the difference between two reads of /__bench/kv around it.
 */
import { BenchError } from "./common.ts";
import type { LoadSettings } from "./load.ts";
import { KV_COUNTS_PATH } from "./wrapper.ts";

/** KV calls made by the worker on its wrapped bindings, since the isolate started. */
export interface KvCounts {
  /** get() and getWithMetadata() calls (a bulk get of up to 100 keys is one operation). */
  gets: number;
  /** Keys those calls asked for. */
  keys: number;
  puts: number;
  lists: number;
  deletes: number;
}

/** KV operations during one run, and per response. */
export interface KvPerRequest extends KvCounts {
  requests: number;
  seconds: number;
  /** gets / requests. */
  readsPerRequest: number;
  /** keys / requests. */
  keysPerRequest: number;
}

/** The wrapper's counts so far. */
export async function readKvCounts(workerUrl: string): Promise<KvCounts> {
  const res = await fetch(workerUrl + KV_COUNTS_PATH, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200) throw new BenchError(`${KV_COUNTS_PATH}: expected 200 from the bench wrapper, got ${res.status}: ${body.slice(0, 200)}`);
  const c = JSON.parse(body) as Partial<KvCounts>;
  if (typeof c.gets !== "number" || typeof c.keys !== "number") throw new BenchError(`${KV_COUNTS_PATH}: not the wrapper's counts: ${body.slice(0, 200)}`);
  return { gets: c.gets, keys: c.keys, puts: c.puts ?? 0, lists: c.lists ?? 0, deletes: c.deletes ?? 0 };
}

/** `after - before`, per response of a run of `requests` over `seconds`. */
export function kvPerRequest(before: KvCounts, after: KvCounts, requests: number, seconds: number): KvPerRequest {
  const d = (k: keyof KvCounts) => after[k] - before[k];
  const gets = d("gets");
  const keys = d("keys");
  return {
    gets, keys, puts: d("puts"), lists: d("lists"), deletes: d("deletes"), requests, seconds,
    readsPerRequest: requests > 0 ? gets / requests : Number.NaN,
    keysPerRequest: requests > 0 ? keys / requests : Number.NaN,
  };
}

/**
 * `s` with hooks that read the counts right before and after the measured run (inside any hooks
 * `s` already has), and the run's figure once it is over.
 */
export function countingKv(workerUrl: string, s: LoadSettings): { settings: LoadSettings; result(requests: number, seconds: number): KvPerRequest } {
  let before: KvCounts | undefined;
  let after: KvCounts | undefined;
  const settings: LoadSettings = {
    ...s,
    hooks: {
      before: async () => {
        await s.hooks?.before();
        before = await readKvCounts(workerUrl);
      },
      after: async () => {
        after = await readKvCounts(workerUrl);
        await s.hooks?.after();
      },
    },
  };
  return {
    settings,
    result(requests, seconds) {
      if (!before || !after) throw new BenchError("KV counts were not read around the run");
      return kvPerRequest(before, after, requests, seconds);
    },
  };
}
