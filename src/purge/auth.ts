/**
 * Authentication of the worker's control endpoints (purge, explain): an optional IP allow-list,
 * then a bearer token compared in constant time. The right token always works: failures are
 * counted (per client address and in all) only to slow down guessing, so nobody sharing an
 * address with the origin app, or flooding wrong tokens, can lock the app out of purging.
 */
import { ipAllowed } from "../ip.ts";

/** Failed authentications allowed per client address per window before failures answer 429. */
export const AUTH_FAILURES_PER_WINDOW = 10;
/** Failed authentications allowed from all addresses together per window (a distributed guess). */
export const AUTH_FAILURES_GLOBAL = 200;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Addresses remembered at most; beyond, the table starts again. */
const ADDRESSES_KEPT = 10_000;

/** Constant-time comparison of the presented token with the secret (hash both: equal lengths). */
export async function tokenMatches(presented: string, secret: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(presented)),
    crypto.subtle.digest("SHA-256", enc.encode(secret)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

export interface FailureLimiter {
  /** Count a failure from `ip`; seconds the caller should wait, or 0 when it is not over the limit. */
  fail(ip: string): number;
}

/** Per-isolate counts of failed authentications, by address and in all. */
export function createFailureLimiter(now: () => number): FailureLimiter {
  const byIp = new Map<string, { count: number; since: number }>();
  let global = { count: 0, since: 0 };
  const bump = (f: { count: number; since: number } | undefined, t: number) =>
    !f || t - f.since >= AUTH_FAILURE_WINDOW_MS ? { count: 1, since: t } : { count: f.count + 1, since: f.since };
  return {
    fail(ip) {
      const t = now();
      if (byIp.size >= ADDRESSES_KEPT) byIp.clear();
      const mine = bump(byIp.get(ip), t);
      byIp.set(ip, mine);
      global = bump(global, t);
      const over = [mine.count > AUTH_FAILURES_PER_WINDOW ? mine.since : null, global.count > AUTH_FAILURES_GLOBAL ? global.since : null];
      const waits = over.filter((s): s is number => s !== null).map((s) => Math.ceil((AUTH_FAILURE_WINDOW_MS - (t - s)) / 1000));
      return waits.length ? Math.max(1, ...waits) : 0;
    },
  };
}

/** Why a request to a control endpoint is refused, or null when it may go on. */
export type AuthFailure = { status: 403 } | { status: 429; retryAfter: number } | { status: 401 };

/**
 * The one authentication sequence: IP allow-list (403), then the token. A missing, malformed and
 * wrong token are one failure (no oracle): 401, or 429 once the caller (or everyone together) has
 * failed too often, which only changes what failures are told.
 */
export async function authenticate(request: Request, secret: string, limiter: FailureLimiter, allow: readonly string[]): Promise<AuthFailure | null> {
  const ip = request.headers.get("cf-connecting-ip") ?? "unknown";
  if (!ipAllowed(ip, allow)) return { status: 403 };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  // Compared even when malformed, so every failure takes the same time.
  const ok = await tokenMatches(match?.[1] ?? "", secret);
  if (match && ok) return null;
  const wait = limiter.fail(ip);
  return wait > 0 ? { status: 429, retryAfter: wait } : { status: 401 };
}
