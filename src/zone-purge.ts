/**
 * Cloudflare zone purge (I/O), behind an interface so tests point it at a local fake.
 *
 * The KV tag index alone is correct; a zone purge makes other locations drop entries sooner than
 * KV propagates (Cloudflare states < 150 ms P50 global). Stored entries carry a `Cache-Tag`
 * header with every tag, including the URL / prefix / host tags, so purge by tag reaches Cache API
 * entries stored under our custom keys (purge by URL would not).
 */
import { logFault } from "./log.ts";

/** One zone purge call takes at most 100 tags. */
export const ZONE_PURGE_BATCH = 100;
/** Attempts per batch when the API answers 429 (rate limited) or 5xx. */
export const ZONE_PURGE_ATTEMPTS = 5;
/** Longest wait between attempts, whatever Retry-After says. */
const MAX_BACKOFF_MS = 10_000;
/**
 * All attempts of one purge end within this: background work is cancelled about 30 s after the
 * response (workers/platform/limits, waitUntil), and work cut off midway would report nothing.
 */
export const ZONE_PURGE_DEADLINE_MS = 25_000;

export interface ZonePurgeRequest {
  tags?: readonly string[];
  everything?: boolean;
}

export interface ZonePurgeResult {
  calls: number;
  ok: boolean;
  errors: string[];
}

export interface ZonePurger {
  /** `attempts`: per call, 1 for a single try (the coordinator retries on its own alarm). */
  purge(request: ZonePurgeRequest, opts?: { attempts?: number }): Promise<ZonePurgeResult>;
}

export interface ZonePurgeOptions {
  apiBase: string;
  zoneId: string;
  token: string;
  /** Base backoff in ms (doubles per attempt). */
  backoffMs?: number;
  /** Give up (and say so) when the next wait would end past this many ms after the purge began. */
  deadlineMs?: number;
}

/** The real API: POST {apiBase}/zones/{zoneId}/purge_cache, tags in batches of 100, retried on 429/5xx. */
export function cloudflareZonePurger(opts: ZonePurgeOptions): ZonePurger {
  const url = `${opts.apiBase.replace(/\/$/, "")}/zones/${encodeURIComponent(opts.zoneId)}/purge_cache`;
  const base = opts.backoffMs ?? 250;

  async function call(body: unknown, deadline: number, maxAttempts: number): Promise<{ calls: number; error: string | null }> {
    let calls = 0;
    for (let attempt = 1; ; attempt++) {
      calls++;
      let status = 0;
      let retryAfter: string | null = null;
      let detail = "";
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        status = res.status;
        retryAfter = res.headers.get("retry-after");
        detail = (await res.text()).slice(0, 200);
        if (res.ok) return { calls, error: null };
      } catch (e) {
        detail = e instanceof Error ? e.message : String(e);
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= maxAttempts) {
        return { calls, error: `zone purge failed (HTTP ${status || "network"}): ${detail}` };
      }
      const hinted = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : base * 2 ** (attempt - 1);
      const wait = Math.min(MAX_BACKOFF_MS, hinted);
      if (Date.now() + wait > deadline) return { calls, error: `zone purge gave up within the background budget (HTTP ${status || "network"}): ${detail}` };
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  return {
    async purge(request, perCall = {}) {
      const bodies: unknown[] = request.everything
        ? [{ purge_everything: true }]
        : chunk(request.tags ?? [], ZONE_PURGE_BATCH).map((tags) => ({ tags }));
      const result: ZonePurgeResult = { calls: 0, ok: true, errors: [] };
      const deadline = Date.now() + (opts.deadlineMs ?? ZONE_PURGE_DEADLINE_MS);
      for (const body of bodies) {
        const r = await call(body, deadline, perCall.attempts ?? ZONE_PURGE_ATTEMPTS);
        result.calls += r.calls;
        if (r.error) {
          result.ok = false;
          result.errors.push(r.error);
          logFault("zone-purge", new Error(r.error));
        }
      }
      return result;
    },
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
