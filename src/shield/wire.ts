/**
 * What a location and the shield say to each other (pure). The location sends the key (never the
 * client's request: the shield builds the origin request from the key alone, like a location
 * does) and the configuration it runs; the shield answers with a Response:
 *
 * - a stored copy, encoded like a Cache API object (status, headers, body, our metadata in
 *   `x-ec-*`), so the location stores it with the fill's own times: Age and purges count from the
 *   shield's fill, not from the location's copy of it;
 * - `pass`: the origin's response, not storable, for this request only (nothing shared);
 * - `failed`: the origin could not be reached and nothing stale could answer.
 *
 * Every answer carries the shield's Cache-Status member and whether it asked the origin.
 */
import { type CacheStatus, formatCacheStatus, type Upstream } from "../http/cache-status.ts";
import type { CacheKey } from "../key.ts";
import { decode, encode } from "../store/cache-api.ts";
import type { StoredEntry } from "../store/entries.ts";

/** The name the shield uses in Cache-Status. */
export const SHIELD_CACHE_NAME = "edge-cache-shield";

export interface ShieldRequest {
  /** The caller's configuration (Config.source): the shield judges responses by the same rules. */
  config: string;
  key: CacheKey;
  /** Copies filled before this time (ms) are not used: a purge the caller knows of, or a forced refresh. */
  notBefore: number;
}

/** How the shield answered. */
export type ShieldAnswer = "hit" | "stale-while-revalidate" | "miss" | "revalidated" | "coalesced" | "stale" | "pass" | "failed";

const H = {
  answer: "x-ec-shield",
  member: "x-ec-shield-status",
  origin: "x-ec-shield-origin",
  failure: "x-ec-shield-failure",
} as const;

const HIT_ANSWERS: ReadonlySet<string> = new Set(["hit", "stale-while-revalidate", "coalesced", "stale"]);

function mark(res: Response, answer: ShieldAnswer, status: CacheStatus, originAsked: boolean): Response {
  res.headers.set(H.answer, answer);
  res.headers.set(H.member, formatCacheStatus(status, SHIELD_CACHE_NAME));
  res.headers.set(H.origin, originAsked ? "1" : "0");
  return res;
}

/** A stored copy (fresh, or stale when the origin failed or is slow). */
export function entryAnswer(entry: StoredEntry, answer: ShieldAnswer, status: CacheStatus, originAsked: boolean, now: number): Response {
  const res = encode(entry, now);
  return mark(res, answer, status, originAsked);
}

/** The origin's response, for this request only. */
export function passAnswer(res: Response, status: CacheStatus): Response {
  return mark(new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers }), "pass", status, true);
}

/** Nothing to answer with: the origin failed (timeout or network) and no stale copy may answer. */
export function failedAnswer(failure: "timeout" | "network", status: CacheStatus): Response {
  const res = new Response(null, { status: 502 });
  res.headers.set(H.failure, failure);
  return mark(res, "failed", status, true);
}

export type ReadAnswer =
  | { kind: "entry"; entry: StoredEntry; stale: boolean }
  | { kind: "pass"; res: Response }
  | { kind: "failed"; failure: "timeout" | "network" }
  | { kind: "invalid" };

export interface Answered {
  read: ReadAnswer;
  answer: string;
  upstream: Upstream;
  originAsked: boolean;
}

/** Read the shield's answer (its own fields removed). */
export function readAnswer(res: Response): Answered {
  const h = new Headers(res.headers);
  const answer = h.get(H.answer) ?? "";
  const upstream: Upstream = { member: h.get(H.member) ?? SHIELD_CACHE_NAME, xCache: HIT_ANSWERS.has(answer) ? "HIT" : "MISS" };
  const originAsked = h.get(H.origin) === "1";
  const failure = h.get(H.failure) === "timeout" ? "timeout" : "network";
  for (const name of Object.values(H)) h.delete(name);
  const out = (read: ReadAnswer): Answered => ({ read, answer, upstream, originAsked });
  const clean = new Response(res.body, { status: res.status, statusText: res.statusText, headers: h });
  if (answer === "pass") return out({ kind: "pass", res: clean });
  if (answer === "failed") {
    void clean.body?.cancel();
    return out({ kind: "failed", failure });
  }
  const entry = decode(clean);
  if (!entry) {
    void clean.body?.cancel();
    return out({ kind: "invalid" });
  }
  return out({ kind: "entry", entry, stale: answer === "stale" });
}
