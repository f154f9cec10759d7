/**
 * pass (I/O): a request that must not touch the cache goes to the origin as it was sent (minus
 * analytics cookies and poisoning headers); nothing is stored. A successful unsafe request
 * invalidates what this location holds for its URI (RFC 9111 §4.4).
 */
import type { Delivery } from "../deliver.ts";
import type { CacheStatus } from "../http/cache-status.ts";
import type { Invocation, Runtime } from "../runtime.ts";
import { passRequestOf, type RequestFacts, type SkipCondition } from "./recv.ts";
import { originFailure } from "./store.ts";

const UNSAFE = new Set(["POST", "PUT", "DELETE", "PATCH"]);

export async function pass(f: RequestFacts, condition: SkipCondition, rt: Runtime, inv: Invocation): Promise<Delivery> {
  const status: CacheStatus = { xCache: "BYPASS", fwd: "bypass", detail: condition.name };
  const result = await rt.origin.fetch(passRequestOf(f, rt.config));
  if (inv.trace) {
    inv.trace.originMs = result.ms;
    inv.trace.originAsked = true;
  }
  if (!result.ok) return originFailure(result.kind, status);
  const res = result.response;
  // RFC 9111 §4.4: a successful unsafe request invalidates the target URI and the same-origin
  // Location / Content-Location URIs (in this location's cache; the purge API reaches the rest).
  if (UNSAFE.has(f.method) && res.status >= 200 && res.status < 400) inv.waitUntil(rt.writer.invalidateLocally(f.url, res.headers));
  return {
    source: "unshared", status: res.status, statusText: res.statusText, headers: new Headers(res.headers), body: res.body,
    cacheStatus: { ...status, fwdStatus: res.status }, key: f.key,
  };
}
