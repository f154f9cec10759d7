/**
 * Test helpers: send a request through the real worker entry (src/index.ts) with a real
 * ExecutionContext, wait for its background work (cache writes), and talk to the test origin.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { COORDINATOR_NAME, createApp } from "../src/app.ts";
import { parseConfig } from "../src/config.ts";
import worker from "../src/index.ts";
import type { Env } from "../src/env.ts";
import type { LoggedRequest, ResponseSpec } from "./origin/protocol.ts";

export const testEnv = env as unknown as Env & { ORIGIN_URL: string; PURGE_TOKEN: string };

/** Public host the tests pretend to be (the worker's route). */
export const SITE = "https://www.example.com";

export interface Sent {
  res: Response;
  body: string;
  status: number;
  header(name: string): string | null;
  /** ms from sending the request to the last byte of the body (before background work is waited for). */
  ms: number;
}

/** A unique path prefix so tests never share cache entries or origin counters. */
export function uniquePath(prefix = "/t"): string {
  return `${prefix}/${crypto.randomUUID().slice(0, 12)}`;
}

/** Send one request through the worker; resolves after its waitUntil work has finished. */
export async function send(path: string, init: RequestInit = {}, envOverrides: Partial<Env> = {}): Promise<Sent> {
  const ctx = createExecutionContext();
  const request = new Request(path.startsWith("http") ? path : `${SITE}${path}`, init);
  const started = Date.now();
  const res = await worker.fetch(request, { ...testEnv, ...envOverrides }, ctx);
  const body = await res.text();
  const ms = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res, body, status: res.status, header: (name) => res.headers.get(name), ms };
}

/** An app built with createApp: one isolate's worth of state. */
export type App = ReturnType<typeof createApp>;

/** Send one request to `app` (on SITE), timed to the body's last byte; resolves after its waitUntil work. */
export async function sendTo(app: App, path: string, init: RequestInit = {}, env: Partial<Env> = {}): Promise<Sent> {
  const ctx = createExecutionContext();
  const started = Date.now();
  const res = await app.fetch(new Request(`${SITE}${path}`, init), { ...testEnv, ...env }, ctx);
  const body = await res.text();
  const ms = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res, body, status: res.status, header: (name) => res.headers.get(name), ms };
}

/** What the origin received for paths starting with `prefix`. */
export async function originLog(prefix: string): Promise<LoggedRequest[]> {
  const r = await fetch(`${testEnv.ORIGIN_URL}/__log?prefix=${encodeURIComponent(prefix)}`);
  return (await r.json()) as LoggedRequest[];
}

/** Tell the origin how to answer `path` (responses in order, the last repeats). */
export async function script(path: string, ...responses: ResponseSpec[]): Promise<void> {
  const r = await fetch(`${testEnv.ORIGIN_URL}/__script`, { method: "POST", body: JSON.stringify({ path, responses }) });
  if (!r.ok) throw new Error(`script failed: ${r.status}`);
}

/** EDGE_CONFIG override for one test (a new configuration builds a new app). */
export function withConfig(config: Record<string, unknown>): Partial<Env> {
  return { EDGE_CONFIG: JSON.stringify(config) };
}

/**
 * An app with a controllable clock (for freshness, stale-while-revalidate, stale-if-error), built
 * from the same configuration path as the worker, with its own cache version so entries are its own.
 */
export function clockedWorker(config: Record<string, unknown> = {}, start = Date.parse("2026-11-22T10:00:00Z")) {
  let now = start;
  const app = createApp(parseConfig({ ORIGIN_URL: testEnv.ORIGIN_URL, CACHE_VERSION: crypto.randomUUID(), EDGE_CONFIG: config }), {
    now: () => now,
  });
  return {
    advance(seconds: number) {
      now += seconds * 1000;
    },
    send: (path: string, init: RequestInit = {}, env: Partial<Env> = {}) => sendTo(app, path, init, env),
  };
}

/** The purge coordinator of the test run (one per test file: storage is isolated per file). */
export function coordinator() {
  const ns = testEnv.PURGES!;
  return ns.get(ns.idFromName(COORDINATOR_NAME));
}

/**
 * Wait until the coordinator has published every purge it recorded (the journal and the per-tag
 * keys in KV): what another isolate or location needs before it can honour a purge.
 */
export async function purgesPublished(timeoutMs = 5000): Promise<void> {
  const stub = coordinator();
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await stub.status();
    if (s.journalCurrent && s.unwrittenTags === 0) return;
    if (Date.now() > until) throw new Error(`purges not published within ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A PURGES binding whose coordinator fails the first `failures` purges (unreachable), then works. */
export function flakyCoordinator(failures: number): Partial<Env> {
  const real = testEnv.PURGES!;
  let left = failures;
  const ns = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id);
      return {
        record: async (input: Parameters<typeof stub.record>[0]) => {
          if (left-- > 0) throw new Error("coordinator unreachable");
          return stub.record(input);
        },
        status: () => stub.status(),
      };
    },
  };
  return { PURGES: ns as unknown as Env["PURGES"] };
}

/** Wait until the coordinator's queue of zone purges is empty (sent, or given up). */
export async function zonePurgesSent(timeoutMs = 5000): Promise<void> {
  const stub = coordinator();
  const until = Date.now() + timeoutMs;
  while ((await stub.status()).zoneQueue > 0) {
    if (Date.now() > until) throw new Error(`zone purges not sent within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
