/**
 * The purge API the origin calls (I/O). Body and answer follow Cloudflare's zone purge API, so an
 * existing client works by changing its base URL:
 *   {"files": [...]} | {"tags": [...]} | {"prefixes": [...]} | {"hosts": [...]} | {"purge_everything": true}
 *
 * Everything is validated before anything is applied: a rejected request purges nothing.
 * Every kind of purge becomes tag invalidations in KV (see store/tag-index.ts): files -> URL tags,
 * prefixes -> directory tags, hosts -> host tags, everything -> the "*" tag every entry carries.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import type { Config } from "./config.ts";
import { ipAllowed } from "./ip.ts";
import { buildKey, keysForUrl, normalisePath } from "./key.ts";
import { readWhole } from "./store/entries.ts";
import type { TieredStore } from "./store/tier.ts";
import type { TagIndex } from "./store/tag-index.ts";
import { EVERYTHING_TAG, hostTag, pathPrefixes, prefixTag, tagProblem, urlTag } from "./tags.ts";
import { logEvent } from "./log.ts";
import type { ZonePurger } from "./zone-purge.ts";

/** Cloudflare's per-request limit on files / tags / hosts / prefixes. */
export const MAX_PURGE_ITEMS = 100;
/** Largest purge body accepted (100 URLs of 2 KB fit easily). */
export const MAX_PURGE_BODY_BYTES = 512 * 1024; // 100 URLs of 4 KB each fit
/** Failed authentications allowed per client IP per window before answering 429. */
export const AUTH_FAILURES_PER_WINDOW = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;

const str = (max: number) => z.string().check(z.maxLength(max));
const makePurgeSchema = () => z.strictObject({
  files: z.optional(z.array(z.union([str(4096), z.strictObject({ url: str(4096), headers: z.optional(z.record(z.string(), z.string())) })]))),
  tags: z.optional(z.array(str(2048))),
  prefixes: z.optional(z.array(str(4096))),
  hosts: z.optional(z.array(str(300))),
  purge_everything: z.optional(z.literal(true)),
});
let purgeSchema: ReturnType<typeof makePurgeSchema> | undefined;

type PurgeBody = z.output<ReturnType<typeof makePurgeSchema>>;

export interface PurgeDeps {
  config: Config;
  tagIndex: TagIndex;
  zonePurger: ZonePurger | null;
  store: TieredStore;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Cloudflare-style envelope. */
function envelope(status: number, result: unknown, errors: { code: number; message: string }[] = []): Response {
  return new Response(JSON.stringify({ success: errors.length === 0, errors, messages: [], result }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function fail(status: number, code: number, message: string, extra: HeadersInit = {}): Response {
  const res = envelope(status, null, [{ code, message }]);
  for (const [k, v] of Object.entries(extra)) res.headers.set(k, v);
  return res;
}

/** Constant-time comparison of the presented token with the secret (hash both: equal lengths). */
export async function tokenMatches(presented: string, secret: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(presented)),
    crypto.subtle.digest("SHA-256", enc.encode(secret)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Per-isolate count of failed authentications by client IP. */
export function createFailureLimiter(now: () => number) {
  const failures = new Map<string, { count: number; since: number }>();
  return {
    /** Seconds until `ip` may try again, or 0 when it is not blocked. */
    blockedFor(ip: string): number {
      const f = failures.get(ip);
      if (!f || f.count < AUTH_FAILURES_PER_WINDOW) return 0;
      const left = AUTH_FAILURE_WINDOW_MS - (now() - f.since);
      return left > 0 ? Math.ceil(left / 1000) : 0;
    },
    fail(ip: string): void {
      const f = failures.get(ip);
      if (!f || now() - f.since >= AUTH_FAILURE_WINDOW_MS) {
        if (failures.size > 10_000) failures.clear();
        failures.set(ip, { count: 1, since: now() });
      } else {
        f.count++;
      }
    },
  };
}

/** Why a request to a control endpoint (purge, explain) is refused, or null when it may go on. */
export type AuthFailure = { status: 403 } | { status: 429; retryAfter: number } | { status: 401 };

/**
 * The one authentication sequence for the worker's control endpoints: IP allow-list, then the
 * failure limiter (before the token on purpose: while blocked, even a right guess is not
 * confirmed), then the bearer token in constant time. Missing, malformed and wrong tokens are one
 * failure (no oracle), counted against the client's address.
 */
export async function authenticate(
  request: Request, secret: string, limiter: ReturnType<typeof createFailureLimiter>, allow: readonly string[],
): Promise<AuthFailure | null> {
  const ip = request.headers.get("cf-connecting-ip") ?? "unknown";
  if (!ipAllowed(ip, allow)) return { status: 403 };
  const wait = limiter.blockedFor(ip);
  if (wait > 0) return { status: 429, retryAfter: wait };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  if (!match || !(await tokenMatches(match[1]!, secret))) {
    limiter.fail(ip);
    return { status: 401 };
  }
  return null;
}

interface Plan {
  tags: string[];
  localKeys: string[];
  counts: { files: number; tags: number; prefixes: number; hosts: number; everything: boolean };
}

/** Turn a validated body into tags to invalidate (or a reason it cannot be applied). */
async function plan(body: PurgeBody, deps: PurgeDeps): Promise<Plan | string> {
  const files = body.files ?? [];
  const tags = body.tags ?? [];
  const prefixes = body.prefixes ?? [];
  const hosts = body.hosts ?? [];
  const total = files.length + tags.length + prefixes.length + hosts.length;
  if (body.purge_everything && total > 0) return "purge_everything cannot be combined with other purge fields";
  if (!body.purge_everything && total === 0) return "nothing to purge: give files, tags, prefixes, hosts or purge_everything";
  if (total > MAX_PURGE_ITEMS) return `at most ${MAX_PURGE_ITEMS} items per request (got ${total}); split the purge`;

  const out: Plan = {
    tags: [],
    localKeys: [],
    counts: { files: files.length, tags: tags.length, prefixes: prefixes.length, hosts: hosts.length, everything: !!body.purge_everything },
  };
  if (body.purge_everything) out.tags.push(EVERYTHING_TAG);
  for (const raw of tags) {
    const tag = raw.trim().toLowerCase();
    const problem = tagProblem(tag);
    if (problem) return `tags: "${raw.slice(0, 64)}" is ${problem}`;
    out.tags.push(tag);
  }
  for (const item of files) {
    const raw = typeof item === "string" ? item : item.url;
    const url = parseHttpUrl(raw);
    if (!url) return `files: "${raw.slice(0, 64)}" is not an absolute http(s) URL`;
    const key = buildKey(url, new Headers(), deps.config.keyOptions);
    out.tags.push(await urlTag(key.url));
    // Delete the entries in this location at once, every language variant of the URL.
    out.localKeys.push(...keysForUrl(url, deps.config.keyOptions));
  }
  for (const raw of prefixes) {
    const url = parseHttpUrl(/^https?:\/\//i.test(raw) ? raw : `https://${raw}`);
    if (!url || url.search || url.hash) return `prefixes: "${raw.slice(0, 64)}" is not a host/path prefix`;
    const dirs = pathPrefixes(normalisePath(url.pathname));
    const deepest = dirs[dirs.length - 1];
    out.tags.push(deepest === undefined ? hostTag(url.host) : await prefixTag(url.host, deepest));
  }
  for (const raw of hosts) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(raw)) return `hosts: "${raw.slice(0, 64)}" is not a host name`;
    // Entries record the host as URLs do: without a default port.
    out.tags.push(hostTag(raw.replace(/:(80|443)$/, "")));
  }
  out.tags = [...new Set(out.tags)];
  out.localKeys = [...new Set(out.localKeys)];
  return out;
}

function parseHttpUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

/**
 * Handle one purge request. `secret` is the PURGE_TOKEN (undefined: the endpoint does not exist).
 * Order of checks: method, configured, IP allow-list, failure rate, token, size, JSON, schema, plan.
 */
export async function handlePurge(
  request: Request,
  secret: string | undefined,
  limiter: ReturnType<typeof createFailureLimiter>,
  deps: PurgeDeps,
): Promise<Response> {
  if (!secret) return fail(404, 10404, "not found: the purge API is disabled (no PURGE_TOKEN secret is set)");
  if (request.method !== "POST") return fail(405, 10405, "method not allowed: use POST", { allow: "POST" });
  const denied = await authenticate(request, secret, limiter, deps.config.purgeAllowIps);
  if (denied?.status === 403) return fail(403, 10403, "forbidden");
  if (denied?.status === 429) {
    return fail(429, 10429, `too many failed authentications from this address; retry in ${denied.retryAfter} s`, { "retry-after": String(denied.retryAfter) });
  }
  if (denied) return fail(401, 10000, "authentication error", { "www-authenticate": 'Bearer realm="edge-cache purge"' });

  if (!request.body) return fail(400, 1012, "request body is empty: send a JSON object");
  const bytes = await readWhole(request.body, MAX_PURGE_BODY_BYTES, request.headers.get("content-length")).catch(() => null);
  if (bytes === null) return fail(413, 1413, `request body larger than ${MAX_PURGE_BODY_BYTES} bytes (or incomplete)`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    return fail(400, 1012, `malformed JSON: ${(e as Error).message}`);
  }
  // Built on the first purge, not at start-up; the English messages are loaded with the configuration's.
  purgeSchema ??= (z.config(en()), makePurgeSchema());
  const parsed = purgeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join(".") : "body";
    return fail(400, 1012, `${where}: ${issue.message}`);
  }
  const p = await plan(parsed.data, deps);
  if (typeof p === "string") return fail(400, 1012, p);

  let at: number;
  try {
    at = await deps.tagIndex.invalidate(p.tags);
  } catch (e) {
    return fail(503, 1503, `purge could not be recorded (KV): ${(e as Error).message}; retry — purges are idempotent`);
  }
  let deleted = 0;
  if (p.localKeys.length) {
    const results = await Promise.all(p.localKeys.map((k) => deps.store.delete(k).catch(() => false)));
    deleted = results.filter(Boolean).length;
  }
  if (deps.zonePurger) {
    const purger = deps.zonePurger;
    deps.waitUntil(purger.purge(p.counts.everything ? { everything: true } : { tags: p.tags }));
  }
  logEvent("info", "purge", { ...p.counts, invalidated_tags: p.tags.length, deleted_here: deleted });
  return envelope(200, {
    id: crypto.randomUUID(),
    purged_at: new Date(at).toISOString(),
    ...p.counts,
    invalidated_tags: p.tags.length,
    deleted_here: deleted,
    zone_purge: deps.zonePurger ? "queued" : "not configured",
  });
}
