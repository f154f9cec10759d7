/**
 * The shield's storage tier (I/O): one shield object per key keeps that key's object in its own
 * Durable Object storage, and a body over INLINE_MAX in R2 when a bucket is bound.
 *
 * - Durable Object storage (SQLite-backed, key-value API): a value is at most 2 MiB
 *   (durable-objects/platform/limits), so the head and a body up to 1 MiB are one value.
 * - R2 is strongly consistent (r2/reference/consistency): an object written is read back at once
 *   everywhere. A put needs the body's length (r2/api/workers/workers-api-reference: a stream must
 *   have a known length), so a body of unknown length is read whole first, within `limit`.
 *
 * The object is removed at its `keepUntil` by the owner's alarm (`expiresAt` tells the owner when).
 */
import { readWhole, type Stored, type StoredEntry } from "../store/entries.ts";
import type { Tier } from "../store/tier.ts";

/** Bodies up to this size are kept in Durable Object storage with the head; larger ones in R2. */
export const INLINE_MAX = 1024 * 1024;

/** What Durable Object storage holds (structured-clone values). */
interface Head {
  key: string;
  status: number;
  headers: [string, string][];
  size: number;
  meta: StoredEntry["meta"];
  /** The body inline, or null when it is in R2 under `r2`. */
  body: Uint8Array | null;
  r2: string | null;
}

const HEAD = "object";

export interface ShieldTierOptions {
  storage: DurableObjectStorage;
  bucket: R2Bucket | undefined;
  now: () => number;
  /** Called after a put with the time the object may be removed (the owner sets its alarm). */
  expiresAt?: (ms: number) => void | Promise<void>;
}

/** R2 object name for a key: a digest (names are at most 1024 bytes; keys can be longer). */
async function r2Name(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  return `shield/${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function shieldTier(o: ShieldTierOptions): Tier {
  const tier: Tier = {
    name: "shield",
    get: (key) => getObject(o, key),
    put: (key, value) => putObject(o, key, value),
    async delete(key) {
      const head = await o.storage.get<Head>(HEAD);
      if (!head || head.key !== key) return false;
      await remove(o, head);
      return true;
    },
  };
  // Without R2, bodies over INLINE_MAX are not kept; with it, large ones stream there.
  if (!o.bucket) return { ...tier, maxBodyBytes: INLINE_MAX };
  return { ...tier, putStream: (key, value, body, limit) => putStreamed(o, key, value, body, limit) };
}

async function read(o: ShieldTierOptions, key: string): Promise<Head | null> {
  const head = await o.storage.get<Head>(HEAD);
  if (!head || head.key !== key) return null;
  if (head.meta.keepUntil > o.now()) return head;
  await remove(o, head);
  return null;
}

async function remove(o: ShieldTierOptions, head: Head): Promise<void> {
  await o.storage.delete(HEAD);
  if (head.r2 && o.bucket) await o.bucket.delete(head.r2);
}

async function write(o: ShieldTierOptions, key: string, value: Stored, body: Uint8Array | null, r2: string | null, size: number): Promise<void> {
  const old = await o.storage.get<Head>(HEAD);
  const head: Head = { key, status: value.status, headers: [...value.headers], size, meta: value.meta, body, r2 };
  await o.storage.put(HEAD, head);
  // A replaced large body under another name (a different key never shares an object) is removed.
  if (old?.r2 && old.r2 !== r2 && o.bucket) await o.bucket.delete(old.r2);
  await o.expiresAt?.(value.meta.keepUntil);
}

async function getObject(o: ShieldTierOptions, key: string): Promise<Stored | null> {
  const head = await read(o, key);
  if (!head) return null;
  let body: Uint8Array | ReadableStream<Uint8Array> | null = head.body;
  if (head.r2) {
    const obj = o.bucket ? await o.bucket.get(head.r2) : null;
    if (!obj) {
      await o.storage.delete(HEAD); // the body is gone: so is the object
      return null;
    }
    body = obj.body;
  }
  return { kind: "entry", status: head.status, headers: new Headers(head.headers), body, size: head.size, meta: head.meta };
}

async function putObject(o: ShieldTierOptions, key: string, value: Stored): Promise<void> {
  const bytes = value.body === null ? null : value.body instanceof Uint8Array ? value.body : new Uint8Array(await new Response(value.body).arrayBuffer());
  if (!bytes || bytes.byteLength <= INLINE_MAX) return write(o, key, value, bytes, null, bytes?.byteLength ?? 0);
  if (!o.bucket) throw new Error(`a body of ${bytes.byteLength} bytes needs the SHIELD_BUCKET R2 binding`);
  const name = await r2Name(key);
  await o.bucket.put(name, bytes);
  await write(o, key, value, null, name, bytes.byteLength);
}

async function putStreamed(o: ShieldTierOptions, key: string, value: Stored, body: ReadableStream<Uint8Array>, limit: number): Promise<void> {
  if (value.size >= 0 && value.size > limit) {
    await body.cancel();
    throw new Error(`body of ${value.size} bytes is over the ${limit}-byte limit`);
  }
  if (value.size < 0 || value.size <= INLINE_MAX) {
    // Unknown length (R2 needs one), or small enough to keep inline: read it whole, within the limit.
    const bytes = await readWhole(body, limit, value.size >= 0 ? String(value.size) : null);
    if (bytes === null) throw new Error(`body longer than ${limit} bytes, or not its stated length`);
    return putObject(o, key, { ...value, body: bytes, size: bytes.byteLength });
  }
  const name = await r2Name(key);
  try {
    // FixedLengthStream gives the put its length and fails it on a short or long body.
    await o.bucket!.put(name, body.pipeThrough(new FixedLengthStream(value.size)));
  } catch (e) {
    await o.bucket!.delete(name).catch(() => undefined); // nothing partial left behind
    throw e;
  }
  await write(o, key, value, null, name, value.size);
}

/** The owner's alarm: remove the object once past its `keepUntil`; else return when to look again (null: nothing kept). */
export async function sweep(o: Pick<ShieldTierOptions, "storage" | "bucket" | "now">): Promise<number | null> {
  const head = await o.storage.get<Head>(HEAD);
  if (head && head.meta.keepUntil > o.now()) return head.meta.keepUntil;
  if (head?.r2 && o.bucket) await o.bucket.delete(head.r2);
  // Everything, the object's metadata included (an empty SQLite database is still about 12 KB of
  // billed storage until deleteAll: durable-objects/reference/faq); with a compatibility date from
  // 2026-02-24 the alarm goes too.
  await o.storage.deleteAll();
  return null;
}
