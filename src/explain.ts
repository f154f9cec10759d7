/**
 * The explain endpoint (I/O): what the cache would do with a URL, for the caller's headers, and
 * what it holds for it. What people use varnishlog for, at the edge. It runs the pipeline's own
 * recv and lookup phases and entry state, so it cannot drift from what requests get.
 *
 *   GET /__edge/explain?url=https://www.example.com/blog/x/?utm_source=a
 *   Authorization: Bearer $EXPLAIN_TOKEN   (or PURGE_TOKEN)
 *
 * The caller's other headers (Cookie, Accept-Language, ...) are evaluated as the request's own;
 * cookie values are never echoed, only names.
 */
import { entryState } from "./phases/entry-state.ts";
import { type FoundEntry, lookup } from "./phases/lookup.ts";
import { recv, type RequestFacts } from "./phases/recv.ts";
import type { Runtime } from "./runtime.ts";
import { currentAge, discard, ttlLeft } from "./store/entries.ts";

function json(status: number, body: unknown): Response {
  return new Response(`${JSON.stringify(body, null, 2)}\n`, {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** Explain `target` as requested with `headers` (the explain request's own, minus its Authorization). */
export async function explain(target: string | null, headers: Headers, method: string, rt: Runtime, cacheApi: string): Promise<Response> {
  if (!target) return json(400, { error: "give the URL to explain: ?url=https://host/path" });
  let url: URL;
  try {
    url = new URL(target);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    return json(400, { error: `not an absolute http(s) URL: ${target.slice(0, 200)}` });
  }
  if (!/^[A-Z]{1,16}$/.test(method)) return json(400, { error: "method must be an HTTP method name (GET, HEAD, POST, ...)" });
  const evaluated = new Headers(headers);
  evaluated.delete("authorization");
  const received = recv(new Request(url, { method, headers: evaluated }), rt.config);
  if (received.kind === "synth") return json(200, { url: url.href, method, answeredBy: "edge-cache", status: received.status, why: received.message });
  const f = received.facts;
  const bypass = received.kind === "lookup"
    ? { bypass: false }
    : { bypass: true, reason: received.condition.name, why: received.condition.why };
  const originReq = f.originRequest();
  return json(200, {
    url: url.href,
    method,
    key: {
      cacheKey: f.key.key, url: f.key.url, path: f.key.path, query: f.key.query, droppedParams: f.key.dropped,
      language: f.key.language ?? null, headers: Object.fromEntries(f.key.headers), device: f.key.device ?? null,
    },
    cookies: {
      stripped: f.cookies.stripped,
      // Names only: on a cacheable request the origin gets the keyed ones; a bypassed request keeps the others.
      keyed: f.cookies.keyed.map(([name]) => name),
      keptWhenBypassed: f.cookies.forward === null ? [] : f.cookies.forward.split("; ").map((c) => c.split("=")[0]),
      session: f.cookies.session,
      ambiguous: f.cookies.ambiguous,
    },
    rule: f.rule
      ? { name: f.rule.name, pattern: f.pattern, why: `first rule whose pattern matches ${f.key.path}`, cacheControl: f.rule.cacheControl ?? null, mode: f.rule.mode, bypass: f.rule.bypass, contentTypes: f.rule.contentTypes ?? null, tags: f.rule.tags, esi: f.rule.esi === true }
      : { name: null, why: "no rule matches: only the origin's explicit caching headers apply" },
    bypass,
    originRequest: { url: originReq.pathAndQuery, headers: Object.fromEntries([...originReq.headers].filter(([k]) => k !== "cookie")) },
    entry: await storedEntry(f, rt),
    tiers: rt.store.tiers,
    // The shield's copy of this key (null: none; absent: the shield is off).
    ...(rt.shield ? { shield: await rt.shield.peek(f.key.key) } : {}),
    // The purge journal this isolate holds (when published, its window, how many tags).
    purgeJournal: rt.purges.journal(),
    // "no-op": the Cache API keeps nothing here (dashboard editor, playground, Cloudflare Access).
    cacheApi,
    origins: rt.origin.health(),
  });
}

/** The lookup phase's verdict, as explain shows it. */
async function storedEntry(f: RequestFacts, rt: Runtime): Promise<unknown> {
  // Explain is not in a hurry: it reads the purge journal now if it is due, not in the background.
  await rt.purges.refresh()?.catch(() => undefined);
  const looked = await lookup(f, rt).catch((e: unknown) => ({ kind: "error" as const, e }));
  switch (looked.kind) {
    case "error":
      return { error: `cache lookup failed: ${String(looked.e)}` };
    case "unavailable":
      return { error: "the cache could not be opened" };
    case "miss":
      return { none: "uri-miss" };
    case "purged":
      return describe(looked.found, rt, { by: looked.by });
    case "hit":
      return describe(looked.found, rt, false);
    case "stale":
      return describe(looked.found, rt, looked.softPurgedBy ? { by: looked.softPurgedBy, soft: true } : false);
  }
}

async function describe(found: FoundEntry, rt: Runtime, purged: false | { by: string; soft?: boolean }) {
  const { meta } = found.entry;
  const t = rt.now();
  const state = entryState(meta, t);
  await discard(found.entry);
  return {
    cacheKey: found.storeKey,
    tier: found.tier,
    status: found.entry.status,
    rule: meta.rule,
    storedAt: new Date(meta.storedAt).toISOString(),
    fillStartedAt: new Date(meta.fillStartedAt).toISOString(),
    age: currentAge(meta, t),
    ttl: meta.ttl,
    ttlLeft: ttlLeft(meta, t),
    state: state === "fresh" ? "fresh" : state === "stale-while-revalidate" ? "stale (served while revalidating)" : "stale (revalidated on next request)",
    staleWhileRevalidate: meta.swr,
    staleIfError: meta.sie,
    mustRevalidate: meta.strict,
    cacheControlSent: meta.cacheControl,
    etag: found.entry.headers.get("etag"),
    lastModified: found.entry.headers.get("last-modified"),
    tags: meta.tags,
    purged,
  };
}

export { json as explainJson };
