/**
 * backend fetch and backend response (I/O): one fetch machine for foreground misses and for
 * background refreshes (Varnish's grace), told apart by a flag. The fetch asks the origin
 * (conditionally when a stale copy has validators); the response is judged into a verdict:
 * serve stale (stale-if-error), fail, revalidated (304), storable, or not storable.
 */
import { codingOf, identityHeaders } from "../http/encoding.ts";
import type { Runtime, Trace } from "../runtime.ts";
import { BUFFER_LIMIT, discard, expectedLength, readWhole, type StoredEntry } from "../store/entries.ts";
import type { Prepared, Revalidated } from "../store/writer.ts";
import { staleUsableOnError } from "./entry-state.ts";
import type { FoundEntry } from "./lookup.ts";
import { notHardPurged } from "./purge-check.ts";
import type { RequestFacts } from "./recv.ts";

export type FetchOutcome =
  | { kind: "response"; res: Response; fillStartedAt: number }
  | { kind: "failed"; failure: "timeout" | "network" };

/** Ask the origin for the keyed request; with validators of the stale copy, conditionally (RFC 9111 §4.3.1). */
export async function fetchOrigin(f: RequestFacts, stale: StoredEntry | null, rt: Runtime, trace?: Trace): Promise<FetchOutcome> {
  const conditional: Record<string, string> = {};
  const etag = stale?.headers.get("etag");
  const lastModified = stale?.headers.get("last-modified");
  if (etag) conditional["if-none-match"] = etag;
  if (lastModified) conditional["if-modified-since"] = lastModified;
  const fillStartedAt = rt.now();
  const result = await rt.origin.fetch(f.originRequest(), conditional);
  if (trace) trace.originMs = result.ms;
  return result.ok ? { kind: "response", res: result.response, fillStartedAt } : { kind: "failed", failure: result.kind };
}

/** Why the origin gave nothing usable: no answer in time, no connection, or a 304 to a request that had no validators. */
export type OriginFailure = "timeout" | "network" | "unprompted-304";

export type BackendVerdict =
  | { kind: "stale-if-error"; fwdStatus: number | undefined }
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

/** The stale copy may answer an origin failure: within stale-if-error, and not purged since (checked again). */
async function staleUsable(stale: FoundEntry, c: BackendContext): Promise<boolean> {
  if (!staleUsableOnError(stale.entry.meta, c.rt.now())) return false;
  return notHardPurged(stale.entry.meta, c.rt, c.facts.key.key);
}
