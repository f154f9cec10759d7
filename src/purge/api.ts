/**
 * The purge API the origin calls (I/O), in Cloudflare's shape: the same body and envelope, at
 * `purgePath` and at `<cloudflareApiPath>/zones/<zone id>/purge_cache`, so an existing Cloudflare
 * client works by changing only its base URL and token.
 *
 *   {"files": [...]} | {"tags": [...]} | {"prefixes": [...]} | {"hosts": [...]} | {"purge_everything": true}
 *   plus "soft": true (entries go stale and are revalidated) and "zone_purge_everything": true
 *
 * Everything is validated before anything is recorded: a rejected request purges nothing. Every
 * kind of purge becomes tags (files -> URL tags, prefixes -> directory tags, hosts -> host tags,
 * everything -> the "*" tag every entry carries: O(1)), handed to the coordinator, which answers
 * once the purge is durable. A purge is never reported done unless it was recorded.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import type { Config } from "../config.ts";
import { buildKey, normalisePath } from "../key.ts";
import { logEvent } from "../log.ts";
import { readWhole } from "../store/entries.ts";
import { EVERYTHING_TAG, hostTag, pathPrefixes, prefixTag, tagProblem, urlTag } from "../tags.ts";
import type { ZonePurgeRequest } from "../zone-purge.ts";
import { authenticate, type FailureLimiter } from "./auth.ts";
import type { PurgeCoordinator, PurgeReceipt, ZoneTarget } from "./coordinator.ts";
import type { PurgeView } from "./view.ts";

/** Cloudflare's per-request limit on files / tags / hosts / prefixes. */
export const MAX_PURGE_ITEMS = 100;
/** Largest purge body accepted (100 URLs of 4 KB each fit). */
export const MAX_PURGE_BODY_BYTES = 512 * 1024;
/** How long the purge API waits for the coordinator before answering 503. */
export const COORDINATOR_TIMEOUT_MS = 10_000;

const str = (max: number) => z.string().check(z.maxLength(max));
const makePurgeSchema = () => z.strictObject({
  files: z.optional(z.array(z.union([str(4096), z.strictObject({ url: str(4096), headers: z.optional(z.record(z.string(), z.string())) })]))),
  tags: z.optional(z.array(str(2048))),
  prefixes: z.optional(z.array(str(4096))),
  hosts: z.optional(z.array(str(300))),
  purge_everything: z.optional(z.literal(true)),
  /** Soft purge: matching entries become stale (revalidated on next use, servable on error). */
  soft: z.optional(z.boolean()),
  /** With purge_everything: also clear Cloudflare's whole zone cache (only when asked: it is not just ours). */
  zone_purge_everything: z.optional(z.literal(true)),
});
let purgeSchema: ReturnType<typeof makePurgeSchema> | undefined;

type PurgeBody = z.output<ReturnType<typeof makePurgeSchema>>;

export interface PurgeDeps {
  config: Config;
  /** PURGE_TOKEN (undefined: the endpoint does not exist). */
  secret: string | undefined;
  limiter: FailureLimiter;
  view: PurgeView;
  /** Where zone purges go, when configured (zoneId and the CF_API_TOKEN secret). */
  zone: ZoneTarget | null;
  /** The coordinator, or why there is none (its binding PURGES, or the KV namespace TAGS, is missing). */
  coordinator: { stub: DurableObjectStub<PurgeCoordinator> } | { missing: string };
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

interface Plan {
  tags: string[];
  zone: ZonePurgeRequest;
  counts: { files: number; tags: number; prefixes: number; hosts: number; everything: boolean; soft: boolean };
}

/** Turn a validated body into tags to purge (or a reason it cannot be applied). */
async function plan(body: PurgeBody, config: Config): Promise<Plan | string> {
  const files = body.files ?? [];
  const tags = body.tags ?? [];
  const prefixes = body.prefixes ?? [];
  const hosts = body.hosts ?? [];
  const total = files.length + tags.length + prefixes.length + hosts.length;
  if (body.purge_everything && total > 0) return "purge_everything cannot be combined with other purge fields";
  if (!body.purge_everything && total === 0) return "nothing to purge: give files, tags, prefixes, hosts or purge_everything";
  if (body.zone_purge_everything && !body.purge_everything) return "zone_purge_everything needs purge_everything";
  if (total > MAX_PURGE_ITEMS) return `at most ${MAX_PURGE_ITEMS} items per request (got ${total}); split the purge`;
  const out: string[] = body.purge_everything ? [EVERYTHING_TAG] : [];
  for (const raw of tags) {
    const tag = raw.trim().toLowerCase();
    const problem = tagProblem(tag);
    if (problem) return `tags: "${raw.slice(0, 64)}" is ${problem}`;
    out.push(tag);
  }
  for (const item of files) {
    const raw = typeof item === "string" ? item : item.url;
    const url = parseHttpUrl(raw);
    if (!url) return `files: "${raw.slice(0, 64)}" is not an absolute http(s) URL`;
    // Every variant of the URL (languages, keyed cookies and headers) carries its URL tag.
    out.push(await urlTag(buildKey(url, new Headers(), config.keyOptions).url));
  }
  for (const raw of prefixes) {
    const url = parseHttpUrl(/^https?:\/\//i.test(raw) ? raw : `https://${raw}`);
    if (!url || url.search || url.hash) return `prefixes: "${raw.slice(0, 64)}" is not a host/path prefix`;
    const dirs = pathPrefixes(normalisePath(url.pathname));
    const deepest = dirs[dirs.length - 1];
    out.push(deepest === undefined ? hostTag(url.host) : await prefixTag(url.host, deepest));
  }
  for (const raw of hosts) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(raw)) return `hosts: "${raw.slice(0, 64)}" is not a host name`;
    // Entries record the host as URLs do: without a default port.
    out.push(hostTag(raw.replace(/:(80|443)$/, "")));
  }
  const unique = [...new Set(out)];
  return {
    tags: unique,
    // The zone purge of everything only when asked: by default even purge_everything reaches only our entries (tag "*").
    zone: body.zone_purge_everything ? { everything: true } : { tags: unique },
    counts: { files: files.length, tags: tags.length, prefixes: prefixes.length, hosts: hosts.length, everything: !!body.purge_everything, soft: !!body.soft },
  };
}

function parseHttpUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

/** Read and validate the body: the plan, or the error response. */
async function readPlan(request: Request, config: Config): Promise<Plan | Response> {
  if (!request.body) return fail(400, 1012, "request body is empty: send a JSON object");
  const bytes = await readWhole(request.body, MAX_PURGE_BODY_BYTES, request.headers.get("content-length")).catch(() => null);
  if (bytes === null) return fail(413, 1413, `request body larger than ${MAX_PURGE_BODY_BYTES} bytes (or incomplete)`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    return fail(400, 1012, `malformed JSON: ${(e as Error).message}`);
  }
  // Built on the first purge, not at start-up; the English messages are loaded with it.
  purgeSchema ??= (z.config(en()), makePurgeSchema());
  const parsed = purgeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(400, 1012, `${issue.path.length ? issue.path.join(".") : "body"}: ${issue.message}`);
  }
  const p = await plan(parsed.data, config);
  return typeof p === "string" ? fail(400, 1012, p) : p;
}

/** The coordinator's receipt, within a bounded time. */
async function record(stub: DurableObjectStub<PurgeCoordinator>, p: Plan, zone: ZoneTarget | null): Promise<PurgeReceipt> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${COORDINATOR_TIMEOUT_MS} ms`)), COORDINATOR_TIMEOUT_MS);
  });
  try {
    return await Promise.race([stub.record({ tags: p.tags, soft: p.counts.soft, zone: zone ? { target: zone, request: p.zone } : null }), timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Handle one purge request. Order of checks: configured (404), method (405), IP allow-list (403),
 * token (401, or 429 for repeated failures), size (413), JSON and schema (400), plan (400), record (503).
 */
export async function handlePurge(request: Request, deps: PurgeDeps): Promise<Response> {
  if (!deps.secret) return fail(404, 10404, "not found: the purge API is disabled (no PURGE_TOKEN secret is set)");
  if (request.method !== "POST") return fail(405, 10405, "method not allowed: use POST", { allow: "POST" });
  const denied = await authenticate(request, deps.secret, deps.limiter, deps.config.purgeAllowIps);
  if (denied?.status === 403) return fail(403, 10403, "forbidden");
  if (denied?.status === 429) {
    return fail(429, 10429, `too many failed authentications; retry in ${denied.retryAfter} s`, { "retry-after": String(denied.retryAfter) });
  }
  if (denied) return fail(401, 10000, "authentication error", { "www-authenticate": 'Bearer realm="edge-cache purge"' });
  const p = await readPlan(request, deps.config);
  if (p instanceof Response) return p;
  if ("missing" in deps.coordinator) return fail(503, 1503, `purge could not be recorded: ${deps.coordinator.missing}`);
  let receipt: PurgeReceipt;
  try {
    receipt = await record(deps.coordinator.stub, p, deps.zone);
  } catch (e) {
    return fail(503, 1503, `purge could not be recorded (the purge coordinator: ${(e as Error).message}); nothing was purged, retry: purges are idempotent`);
  }
  deps.view.recordLocal(p.tags, receipt.at, p.counts.soft);
  logEvent("info", "purge", { ...p.counts, invalidated_tags: p.tags.length });
  return envelope(200, {
    id: crypto.randomUUID(),
    purged_at: new Date(receipt.at).toISOString(),
    ...p.counts,
    invalidated_tags: p.tags.length,
    zone_purge: receipt.zoneQueued ? "queued" : "not configured",
  });
}
