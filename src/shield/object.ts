/**
 * The origin shield object (a Durable Object, one per cache key): the single place where every
 * location's miss for a key meets, so the origin is asked about once per key worldwide. It runs
 * the shield's journey (answer.ts) over its own storage (tier.ts) with the caller's
 * configuration, and removes its object at the end of the object's life with an alarm.
 *
 * Durable Objects: one instance of an id exists in the world at a time and handles its requests
 * one event at a time, interleaving only while they wait on I/O (durable-objects/concepts/
 * what-are-durable-objects), so concurrent misses for a key coalesce here whatever their
 * location. A new object is placed near the first request for it, or in the configured region
 * (`shield.locationHint`, durable-objects/reference/data-location): put it near the origin.
 */
import { DurableObject } from "cloudflare:workers";
import { createCoalescer } from "../coalesce.ts";
import { type Config, parseConfig } from "../config.ts";
import type { Env } from "../env.ts";
import { entryState } from "../phases/entry-state.ts";
import type { Runtime } from "../runtime.ts";
import type { Tier } from "../store/tier.ts";
import { discard, ttlLeft } from "../store/entries.ts";
import { isolateParts, type IsolateParts, runtimeOver } from "../wiring.ts";
import { answerFill } from "./answer.ts";
import { shieldTier, sweep } from "./tier.ts";
import type { ShieldRequest } from "./wire.ts";

/** A lead in flight longer than this is released (the longest origin timeout, twice, plus the body's read). */
const MAX_FILL_MS = 4 * 120_000;
/** Configurations an isolate keeps parts for (a deploy's old and new version, say). */
const CONFIGS_KEPT = 4;
const byConfig = new Map<string, { config: Config; parts: IsolateParts }>();

/** The compiled configuration and the isolate-wide parts (purge view, origin health) for a caller's configuration. */
function partsFor(source: string, env: Env): { config: Config; parts: IsolateParts } {
  let found = byConfig.get(source);
  if (!found) {
    if (byConfig.size >= CONFIGS_KEPT) byConfig.delete(byConfig.keys().next().value!);
    const config = parseConfig({ EDGE_CONFIG: source });
    found = { config, parts: isolateParts(config, env, Date.now) };
    byConfig.set(source, found);
  }
  return found;
}

/** What explain shows of the shield's copy. */
export interface ShieldPeek {
  status: number;
  size: number;
  state: string;
  ttl: number;
  storedAt: string;
  fillStartedAt: string;
  rule: string;
  tags: string[];
}

export class OriginShield extends DurableObject<Env> {
  private readonly tier: Tier;
  private readonly runtimes = new Map<string, Runtime>();
  /** One coalescer for the object, whatever configuration a caller runs (a deploy's two versions meet here too). */
  private readonly coalescer = createCoalescer(MAX_FILL_MS, Date.now);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tier = shieldTier({ storage: ctx.storage, bucket: env.SHIELD_BUCKET, now: Date.now, expiresAt: (ms) => this.expireAt(ms) });
  }

  private runtime(source: string): Runtime {
    let rt = this.runtimes.get(source);
    if (!rt) {
      const { config, parts } = partsFor(source, this.env);
      rt = { ...runtimeOver(config, [this.tier], parts, Date.now, null), coalescer: this.coalescer };
      if (this.runtimes.size >= CONFIGS_KEPT) this.runtimes.clear();
      this.runtimes.set(source, rt);
    }
    return rt;
  }

  /** A location's miss: answered from storage, or by one origin fetch shared by every concurrent caller. */
  async fill(req: ShieldRequest): Promise<Response> {
    return answerFill(req, this.runtime(req.config), { waitUntil: (p) => this.ctx.waitUntil(p) });
  }

  /** The stored copy for `key`, for explain (no purge check: explain's lookup shows that). */
  async peek(key: string): Promise<ShieldPeek | null> {
    const e = await this.tier.get(key);
    if (!e) return null;
    await discard(e);
    const t = Date.now();
    const m = e.meta;
    return {
      status: e.status, size: e.size, state: entryState(m, t), ttl: ttlLeft(m, t), storedAt: new Date(m.storedAt).toISOString(),
      fillStartedAt: new Date(m.fillStartedAt).toISOString(), rule: m.rule, tags: m.tags,
    };
  }

  private async expireAt(ms: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > ms) await this.ctx.storage.setAlarm(ms);
  }

  override async alarm(): Promise<void> {
    const next = await sweep({ storage: this.ctx.storage, bucket: this.env.SHIELD_BUCKET, now: Date.now });
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }
}
