/**
 * A small typed client for edge-cache's purge API (`POST /__edge/purge`, Cloudflare-compatible body
 * and envelope). No dependencies beyond `fetch`, no Node imports: it runs in Node, Workers, Deno and
 * browsers alike.
 *
 *   const edge = createPurgeClient({ endpoint: "https://www.example.com/__edge/purge", token });
 *   await edge.purgeTags(["post_42", "category_news"]);
 *
 * - Lists of more than 100 items (the API's limit per request) are sent as several requests, one
 *   after the other, and their results merged. Purges are idempotent, so a failed batch can be
 *   retried by repeating the whole call.
 * - 429 and 503 answers (and network errors / timeouts) are retried with exponential backoff,
 *   honouring Retry-After; a Retry-After longer than `maxRetryAfterMs` is not waited for: the call
 *   fails at once with that status (and `retryAfterMs` on the error).
 * - Every other failure throws a `PurgeError` with the HTTP status and the API's error messages.
 * - An empty purge (no items at all) sends nothing and resolves to a result with `requests: 0`.
 */

/** The API's limit on files + tags + prefixes + hosts per request. */
export const MAX_ITEMS_PER_REQUEST = 100;

/** A URL to purge: a string, or Cloudflare's `{url, headers}` form. */
export type PurgeFile = string | { url: string; headers?: Record<string, string> };

/** The request body, as the API takes it. */
export interface PurgeBody {
  files?: PurgeFile[];
  tags?: string[];
  prefixes?: string[];
  hosts?: string[];
  purge_everything?: true;
  /** Soft purge: entries become stale (revalidated with the origin on next use, servable if it fails). */
  soft?: boolean;
}

/** What a purge did: in one API call's `result`, and summed over the batches in a `PurgeResult`. */
export interface PurgeCounts {
  files: number;
  tags: number;
  prefixes: number;
  hosts: number;
  everything: boolean;
  invalidated_tags: number;
  /** A soft purge (entries made stale, revalidated before use). */
  soft: boolean;
}

/** `result` of one successful API call. */
export interface PurgeApiResult extends PurgeCounts {
  id: string;
  purged_at: string;
  zone_purge: "queued" | "not configured" | (string & {});
}

/** What a client call resolves to: the batches' results merged (counts summed, `everything` or-ed). */
export interface PurgeResult extends PurgeCounts {
  /** Latest `purged_at` of the batches (empty when nothing was sent). */
  purged_at: string;
  /** The batches' zone_purge values, de-duplicated, joined with ", ". */
  zone_purge: string;
  /** How many API requests were made successfully (batches; retries not counted). */
  requests: number;
  /** The id of each batch. */
  ids: string[];
  /** Each batch's raw result, in order. */
  batches: PurgeApiResult[];
}

export interface ApiError {
  code: number;
  message: string;
}

/** A purge that failed: HTTP status (0 for a network error or timeout) and the API's errors. */
export class PurgeError extends Error {
  override name = "PurgeError";
  /** HTTP status, or 0 when no response arrived. */
  readonly status: number;
  /** The API's `errors` (empty when the answer was not the API's envelope). */
  readonly errors: ApiError[];
  /** Retry-After of the final answer, in ms, if it had one. */
  readonly retryAfterMs: number | undefined;
  /** Batches that had succeeded before this one failed (a repeat of the whole call is safe). */
  readonly completed: PurgeApiResult[];

  constructor(message: string, status: number, errors: ApiError[] = [], retryAfterMs?: number, completed: PurgeApiResult[] = []) {
    super(message);
    this.status = status;
    this.errors = errors;
    this.retryAfterMs = retryAfterMs;
    this.completed = completed;
  }
}

/** The subset of `fetch` the client uses (the global fetch fits, in every runtime). */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal }) => Promise<Response>;

export interface PurgeClientOptions {
  /** Full URL of the purge endpoint, e.g. "https://www.example.com/__edge/purge". */
  endpoint: string;
  /** The worker's PURGE_TOKEN. */
  token: string;
  /** fetch implementation (default: the global fetch). */
  fetch?: FetchLike;
  /** Attempts per request, counting the first (default 4). */
  attempts?: number;
  /** Base backoff in ms, doubled per retry, with jitter (default 500). */
  backoffMs?: number;
  /** Longest wait for a Retry-After; a longer one fails the call at once (default 30 000). */
  maxRetryAfterMs?: number;
  /** Timeout per request in ms (default 15 000; 0 disables). */
  timeoutMs?: number;
  /** How to wait (tests inject one). */
  sleep?: (ms: number) => Promise<void>;
}

export interface PurgeClient {
  /** Send any body; more than 100 items are split into several requests. */
  purge(body: PurgeBody): Promise<PurgeResult>;
  purgeTags(tags: readonly string[]): Promise<PurgeResult>;
  purgeUrls(urls: readonly PurgeFile[]): Promise<PurgeResult>;
  /** Host + path prefixes without a scheme, e.g. "www.example.com/blog/". */
  purgePrefixes(prefixes: readonly string[]): Promise<PurgeResult>;
  purgeHosts(hosts: readonly string[]): Promise<PurgeResult>;
  purgeEverything(): Promise<PurgeResult>;
}

type Kind = "files" | "tags" | "prefixes" | "hosts";
const KINDS: readonly Kind[] = ["files", "tags", "prefixes", "hosts"];

/** Split a body into bodies of at most `max` items in all (a purge_everything body is sent as is). */
export function splitBody(body: PurgeBody, max = MAX_ITEMS_PER_REQUEST): PurgeBody[] {
  if (body.purge_everything !== undefined) return [body];
  const items: [Kind, unknown][] = [];
  for (const kind of KINDS) for (const item of body[kind] ?? []) items.push([kind, item]);
  const out: PurgeBody[] = [];
  for (let i = 0; i < items.length; i += max) {
    const part: Record<string, unknown[]> = {};
    for (const [kind, item] of items.slice(i, i + max)) (part[kind] ??= []).push(item);
    out.push(part as PurgeBody);
  }
  return out;
}

/** Merge batch results into one. */
export function mergeResults(batches: PurgeApiResult[]): PurgeResult {
  const out: PurgeResult = {
    purged_at: "",
    files: 0,
    tags: 0,
    prefixes: 0,
    hosts: 0,
    everything: false,
    invalidated_tags: 0,
    soft: false,
    zone_purge: [...new Set(batches.map((b) => b.zone_purge))].join(", "),
    requests: batches.length,
    ids: batches.map((b) => b.id),
    batches,
  };
  for (const b of batches) {
    out.files += b.files;
    out.tags += b.tags;
    out.prefixes += b.prefixes;
    out.hosts += b.hosts;
    out.everything ||= b.everything;
    out.invalidated_tags += b.invalidated_tags;
    out.soft ||= b.soft;
    if (Date.parse(b.purged_at) > (Date.parse(out.purged_at) || -Infinity)) out.purged_at = b.purged_at;
  }
  return out;
}

/** Retry-After (delta-seconds or HTTP date) in ms, or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function isApiResult(r: unknown): r is PurgeApiResult {
  if (typeof r !== "object" || r === null) return false;
  const o = r as Record<string, unknown>;
  return typeof o.id === "string" && typeof o.purged_at === "string" && typeof o.invalidated_tags === "number";
}

function apiErrors(json: unknown): ApiError[] {
  const errors = (json as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is { code?: unknown; message: string } => typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string")
    .map((e) => ({ code: typeof e.code === "number" ? e.code : 0, message: e.message }));
}

/** An error's name and message, with its cause's (Node's fetch hides ECONNREFUSED in `cause`). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? ` (${e.cause.message})` : "";
  return `${e.name}: ${e.message}${cause}`;
}

const HINTS: Record<number, string> = {
  401: "check the token",
  403: "this client's IP is not in purgeAllowIps",
  404: "wrong endpoint, or PURGE_TOKEN is not configured on the worker",
  405: "the purge API takes POST",
};

export function createPurgeClient(options: PurgeClientOptions): PurgeClient {
  const { endpoint, token } = options;
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new TypeError(`edge-cache purge client: endpoint is not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new TypeError("edge-cache purge client: endpoint must be http(s)");
  if (typeof token !== "string" || token === "" || /\s/.test(token)) {
    throw new TypeError("edge-cache purge client: token must be a non-empty string without whitespace");
  }
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const attempts = Math.max(1, options.attempts ?? 4);
  const backoffMs = options.backoffMs ?? 500;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  /** One batch, with retries. */
  async function send(body: PurgeBody, completed: PurgeApiResult[]): Promise<PurgeApiResult> {
    const payload = JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(endpoint, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
          body: payload,
          ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
        });
      } catch (e) {
        const why = describe(e);
        if (attempt >= attempts) throw new PurgeError(`purge request failed after ${attempt} attempt(s): ${why}`, 0, [], undefined, completed);
        await sleep(backoff(attempt));
        continue;
      }
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        // not the API's envelope (e.g. the 404 without PURGE_TOKEN, or a proxy's error page)
      }
      const envelope = json as { success?: unknown; result?: unknown } | null;
      if (res.ok && envelope?.success === true && isApiResult(envelope.result)) return envelope.result;

      const errors = apiErrors(json);
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
      const retryable = res.status === 429 || res.status === 503;
      if (retryable && attempt < attempts && (retryAfterMs === undefined || retryAfterMs <= maxRetryAfterMs)) {
        await sleep(retryAfterMs ?? backoff(attempt));
        continue;
      }
      const type = res.headers.get("content-type") ?? "";
      const detail = errors.length
        ? errors.map((e) => e.message).join("; ")
        : res.ok
          ? "unexpected answer (not a purge result)"
          : type.startsWith("text/plain") && text.trim()
            ? text.trim().slice(0, 200)
            : `${res.statusText || "error"} (a non-JSON ${type.split(";")[0] || "untyped"} answer: not the purge API?)`;
      const hint = HINTS[res.status];
      const tries = retryable && attempt > 1 ? ` after ${attempt} attempts` : "";
      throw new PurgeError(`purge failed (HTTP ${res.status}${tries}): ${detail}${hint ? ` (${hint})` : ""}`, res.status, errors, retryAfterMs, completed);
    }
  }

  function backoff(attempt: number): number {
    const full = backoffMs * 2 ** (attempt - 1);
    return Math.round(full / 2 + Math.random() * (full / 2));
  }

  async function purge(body: PurgeBody): Promise<PurgeResult> {
    const done: PurgeApiResult[] = [];
    for (const part of splitBody(body)) done.push(await send(part, [...done]));
    return mergeResults(done);
  }

  return {
    purge,
    purgeTags: (tags) => purge({ tags: [...tags] }),
    purgeUrls: (urls) => purge({ files: [...urls] }),
    purgePrefixes: (prefixes) => purge({ prefixes: [...prefixes] }),
    purgeHosts: (hosts) => purge({ hosts: [...hosts] }),
    purgeEverything: () => purge({ purge_everything: true }),
  };
}
