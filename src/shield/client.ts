/**
 * The location's side of the origin shield (I/O): a miss asks the key's shield object instead of
 * the origin. The shield never turns a page into an error: when it cannot be reached, throws, or
 * has not answered within `shield.timeoutMs`, the request goes to the origin directly (logged),
 * and after SHIELD_FAILURES_TO_SKIP failures in a row this isolate skips it for the origin's
 * cool-down. Purges are judged again here: a copy this location knows to be purged (the shield
 * may not know yet) is asked for again, newer than that copy.
 */
import { TIMED_OUT, waitFor } from "../coalesce.ts";
import type { Config } from "../config.ts";
import { logEvent, logFault } from "../log.ts";
import type { FetchOutcome } from "../phases/fetch.ts";
import { purgeVerdict } from "../phases/purge-check.ts";
import type { RequestFacts } from "../phases/recv.ts";
import type { Runtime, Trace } from "../runtime.ts";
import { discard } from "../store/entries.ts";
import type { OriginShield, ShieldPeek } from "./object.ts";
import { type Answered, readAnswer, type ShieldRequest } from "./wire.ts";

/** Consecutive failures after which an isolate stops asking the shield for a while. */
export const SHIELD_FAILURES_TO_SKIP = 3;
/** Times a copy purged here is asked for again before the origin is asked directly. */
const PURGED_RETRIES = 2;

export interface ShieldClient {
  /** The shield's answer as a fetch outcome, or null: ask the origin directly. */
  fill(f: RequestFacts, rt: Runtime, notBefore: number, trace?: Trace): Promise<FetchOutcome | null>;
  /** What the shield holds for a key (explain). */
  peek(key: string): Promise<ShieldPeek | null | { error: string }>;
}

export function createShieldClient(ns: DurableObjectNamespace<OriginShield>, config: Config, now: () => number): ShieldClient {
  const timeoutMs = config.shield.timeoutMs ?? config.originTimeoutMs + 1000;
  const hint = config.shield.locationHint;
  let failures = 0;
  let skipUntil = 0;
  const stub = (key: string) => ns.get(ns.idFromName(key), hint ? { locationHint: hint } : undefined);

  function failed(key: string, why: string, e?: unknown): null {
    if (++failures >= SHIELD_FAILURES_TO_SKIP) {
      skipUntil = now() + config.originCooldownMs;
      failures = 0;
    }
    if (e !== undefined) logFault("shield", e, { key, why });
    else logEvent("warn", "shield-unavailable", { key, why, timeoutMs });
    return null;
  }

  async function ask(r: Omit<ShieldRequest, "config">): Promise<Answered | null> {
    const req: ShieldRequest = { ...r, config: config.source };
    const rpc = stub(req.key.key).fill(req) as Promise<Response>;
    let res: Response | typeof TIMED_OUT;
    try {
      res = await waitFor(rpc, timeoutMs);
    } catch (e) {
      return failed(req.key.key, "error", e);
    }
    if (res === TIMED_OUT) {
      void rpc.then((late) => late.body?.cancel(), () => undefined);
      return failed(req.key.key, "timeout");
    }
    failures = 0;
    try {
      return readAnswer(res);
    } catch (e) {
      return failed(req.key.key, "unreadable answer", e);
    }
  }

  return {
    async fill(f, rt, notBefore, trace) {
      if (skipUntil > now()) {
        if (trace) trace.shield = "skipped";
        return null;
      }
      try {
        return await askForUsable(ask, f, rt, notBefore, trace);
      } catch (e) {
        // Whatever went wrong here, the page comes from the origin.
        return failed(f.key.key, "error", e);
      }
    },
    async peek(key) {
      try {
        return await stub(key).peek(key);
      } catch (e) {
        return { error: e instanceof Error ? e.message : String(e) };
      }
    },
  };
}

/** Ask, and ask again (newer) while the answer is a copy this location knows to be purged. */
async function askForUsable(ask: (req: Omit<ShieldRequest, "config">) => Promise<Answered | null>, f: RequestFacts, rt: Runtime, notBefore: number, trace?: Trace): Promise<FetchOutcome | null> {
  let after = notBefore;
  for (let attempt = 0; attempt <= PURGED_RETRIES; attempt++) {
    const answered = await ask({ key: f.key, notBefore: after });
    if (trace) {
      trace.shield = answered?.answer ?? "unavailable";
      trace.originAsked = answered?.originAsked ?? false;
    }
    if (!answered) return null;
    const { read, upstream } = answered;
    switch (read.kind) {
      case "pass":
        return { kind: "response", res: read.res, fillStartedAt: rt.now(), upstream };
      case "failed":
        return { kind: "failed", failure: read.failure, upstream };
      case "invalid":
        logFault("shield", new Error("unreadable answer"), { key: f.key.key });
        return null;
      case "entry": {
        const v = await purgeVerdict(read.entry.meta, rt, f.key.key);
        // A stale answer may be soft-purged (it is served as stale anyway); never one purged hard.
        if (v.hard === null && (v.soft === null || read.stale)) return { kind: "shielded", entry: read.entry, stale: read.stale, upstream };
        await discard(read.entry);
        after = read.entry.meta.fillStartedAt + 1;
        break;
      }
    }
  }
  return null;
}
