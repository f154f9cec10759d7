/**
 * backend fetch and backend response (I/O): one fetch machine for foreground misses and for
 * background refreshes (Varnish's grace), told apart by a flag. The fetch asks the origin
 * (conditionally when a stale copy has validators); the response is judged into a verdict:
 * serve stale (stale-if-error), fail, revalidated (304), storable, or not storable.
 */
import { codingOf, identityHeaders } from "../http/encoding.ts";
import type { Runtime, Trace } from "../runtime.ts";
import type { Upstream } from "../http/cache-status.ts";
import { BUFFER_LIMIT, currentAge, discard, expectedLength, readWhole, type StoredEntry, ttlLeft } from "../store/entries.ts";
import type { Prepared, Revalidated } from "../store/writer.ts";
import { staleUsableOnError } from "./entry-state.ts";
import type { FoundEntry } from "./lookup.ts";
import { notHardPurged } from "./purge-check.ts";
import type { RequestFacts } from "./recv.ts";

/** What came back: a response, a failure, or (from the shield) a stored copy with its metadata. `upstream`: the shield's report. */
export type FetchOutcome =
  | { kind: "response"; res: Response; fillStartedAt: number; upstream?: Upstream }
  | { kind: "failed"; failure: "timeout" | "network"; upstream?: Upstream }
  | { kind: "shielded"; entry: StoredEntry; stale: boolean; upstream: Upstream };

/**
 * Ask the shield when there is one (it falls back to here when it cannot answer), else the origin
 * for the keyed request; with validators of the stale copy, conditionally (RFC 9111 §4.3.1).
 * `notBefore`: the shield must not answer with a copy filled before it.
 */
export async function fetchOrigin(f: RequestFacts, stale: StoredEntry | null, rt: Runtime, trace?: Trace, notBefore = 0): Promise<FetchOutcome> {
  if (rt.shield) {
    const shielded = await rt.shield.fill(f, rt, notBefore, trace);
    if (shielded) return shielded;
  }
  const conditional: Record<string, string> = {};
  const etag = stale?.headers.get("etag");
  const lastModified = stale?.headers.get("last-modified");
  if (etag) conditional["if-none-match"] = etag;
  if (lastModified) conditional["if-modified-since"] = lastModified;
  const fillStartedAt = rt.now();
  const result = await rt.origin.fetch(f.originRequest(), conditional);
  if (trace) {
    trace.originMs = result.ms;
    trace.originAsked = true;
  }
  return result.ok ? { kind: "response", res: result.response, fillStartedAt } : { kind: "failed", failure: result.kind };
}

/** Why the origin gave nothing usable: no answer in time, no connection, or a 304 to a request that had no validators. */
export type OriginFailure = "timeout" | "network" | "unprompted-304";

export type BackendVerdict =
  /** The origin failed: a stale copy answers (`found`: the shield's, else the caller's own). */
  | { kind: "stale-if-error"; fwdStatus: number | undefined; found?: FoundEntry; detail?: string }
  | { kind: "failed"; failure: OriginFailure }
  | { kind: "revalidated"; result: Revalidated; fillStartedAt: number }
  | { kind: "storable"; res: Response; prepared: Prepared }
  | { kind: "unstorable"; res: Response; reason: string; cacheControl: string | null }
  | { kind: "discarded" };

export interface BackendContext {
  facts: RequestFacts;
  stale: FoundEntry | null;
  rt: Runtime;
  /** A background refresh: origin failures are dropped (the stale copy stays), nothing is pre-read. */
  background: boolean;
}

/** Judge what the origin answered. */
export async function backendResponse(outcome: FetchOutcome, c: BackendContext): Promise<BackendVerdict> {
  if (outcome.kind === "shielded") return shieldedVerdict(outcome, c);
  const { stale, rt } = c;
  // RFC 9110 §15.4.5: a 304 answers a conditional request; to one without validators it is unusable.
  const validated = stale !== null && (stale.entry.headers.has("etag") || stale.entry.headers.has("last-modified"));
  const unprompted = outcome.kind === "response" && outcome.res.status === 304 && !validated;
  if (outcome.kind === "failed" || outcome.res.status >= 500 || unprompted) {
    const fwdStatus = outcome.kind === "response" ? outcome.res.status : undefined;
    if (c.background || (stale && (await staleUsable(stale, c)))) {
      if (outcome.kind === "response") await outcome.res.body?.cancel();
      return c.background ? { kind: "discarded" } : { kind: "stale-if-error", fwdStatus };
    }
    await discard(stale?.entry);
    // A stale copy that must not be served stale turns an unreachable origin into a 504.
    if (outcome.kind === "failed") return { kind: "failed", failure: stale?.entry.meta.strict ? "timeout" : outcome.failure };
    if (unprompted) {
      await outcome.res.body?.cancel();
      return { kind: "failed", failure: "unprompted-304" };
    }
  }
  const { res, fillStartedAt } = outcome as Extract<FetchOutcome, { kind: "response" }>;
  if (res.status === 304 && stale) {
    await res.body?.cancel();
    // A background refresh of a large entry: its stream went to the client, so read it again.
    const current = c.background && stale.entry.body instanceof ReadableStream ? (await rt.store.get(stale.storeKey))?.value : stale.entry;
    if (!current) return { kind: "discarded" };
    return { kind: "revalidated", result: await rt.writer.revalidated(current, res.headers, c.facts.rule, fillStartedAt), fillStartedAt };
  }
  let body = res;
  if (!c.background && stale && res.body && res.status < 500) {
    const length = expectedLength(res.headers);
    const n = length !== null && /^\d+$/.test(length) ? Number(length) : Infinity;
    // Small bodies only, within the isolate's buffer budget: a large one streams as it comes.
    if (n <= Math.min(rt.config.maxEntryBytes, BUFFER_LIMIT) && (await staleUsable(stale, c)) && rt.buffers.take(n)) {
      // A stale copy is there to fall back on: take the whole new body before answering, so a
      // connection that breaks mid-body serves the stale copy instead of a truncated page.
      const bytes = await readWhole(res.body, n, length).catch(() => null).finally(() => rt.buffers.give(n));
      if (bytes === null) return { kind: "stale-if-error", fwdStatus: res.status };
      body = new Response(bytes, { status: res.status, statusText: res.statusText, headers: res.headers });
    }
  }
  await discard(stale?.entry);
  const coding = codingOf(body.headers);
  const judged = coding === "opaque"
    ? { reason: "content-encoding", cacheControl: body.headers.get("cache-control") }
    : await rt.writer.prepare(body, c.facts.key, c.facts.rule, fillStartedAt);
  if (!("prepared" in judged)) return { kind: "unstorable", res: body, ...judged };
  // One representation for the client and the store: the decoded bytes, without the coding's headers.
  const res2 = coding === "decoded" ? new Response(body.body, { status: body.status, statusText: body.statusText, headers: identityHeaders(body.headers) }) : body;
  return { kind: "storable", res: res2, prepared: judged.prepared };
}

/**
 * The shield's copy (with the metadata of its fill: Age and purges count from there). A fresh one
 * is stored here like a fill; a stale one (the origin failed or is slow at the shield) answers as
 * stale-if-error would, and is not stored.
 */
async function shieldedVerdict(o: Extract<FetchOutcome, { kind: "shielded" }>, c: BackendContext): Promise<BackendVerdict> {
  const { entry } = o;
  const now = c.rt.now();
  if (o.stale) {
    if (!c.background && staleUsableOnError(entry.meta, now)) {
      await discard(c.stale?.entry);
      // Why the shield answered stale (its origin slow, down, or failing) is why we do.
      const detail = /detail=(stale-[a-z-]+)/.exec(o.upstream.member)?.[1];
      return { kind: "stale-if-error", fwdStatus: undefined, found: { entry, storeKey: c.facts.key.key, tier: "shield" }, detail };
    }
    await discard(entry);
    if (c.background) return { kind: "discarded" };
    if (c.stale && (await staleUsable(c.stale, c))) return { kind: "stale-if-error", fwdStatus: undefined };
    await discard(c.stale?.entry);
    return { kind: "failed", failure: "network" };
  }
  await discard(c.stale?.entry);
  const { meta } = entry;
  const decision = {
    store: true, ttl: ttlLeft(meta, now), initialAge: currentAge(meta, now), cacheControl: meta.cacheControl, source: "origin",
    swr: meta.swr, sie: meta.sie, strict: meta.strict,
  } as const;
  const headers = new Headers(entry.headers);
  if (entry.size >= 0) headers.set("content-length", String(entry.size));
  const res = new Response(entry.body, { status: entry.status, headers });
  return { kind: "storable", res, prepared: { decision, meta, storeKey: c.facts.key.key } };
}

/** The stale copy may answer an origin failure: within stale-if-error, and not purged since (checked again). */
async function staleUsable(stale: FoundEntry, c: BackendContext): Promise<boolean> {
  if (!staleUsableOnError(stale.entry.meta, c.rt.now())) return false;
  return notHardPurged(stale.entry.meta, c.rt, c.facts.key.key);
}
