/**
 * The test origin (test/origin/server.ts standalone) in its own Node process, so it does not share
 * an event loop with the load generator. Unscripted /t/... paths answer 200 text with no caching
 * headers and a per-path counter (X-Origin-Count), which the correctness checks read; scripted
 * paths answer as told (a delay, headers, a body) and are counted from the origin's request log.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { LoggedRequest, ResponseSpec } from "../../test/origin/protocol.ts";
import { BenchError, ROOT } from "./common.ts";

export interface OriginProcess {
  url: string;
  close(): Promise<void>;
}

/** Start the origin on a free loopback port; resolves with its URL once it says it is listening. */
export async function startOriginProcess(): Promise<OriginProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "test/origin/server.ts"), "0"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const close = () => new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once("exit", () => done());
    child.kill("SIGTERM");
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new BenchError("test origin did not start within 10 s")), 10_000);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new BenchError(`test origin exited early (code ${code})`));
    });
  }).catch(async (e: unknown) => {
    await close();
    throw e;
  });
  return { url, close };
}

/**
 * Tell the origin how to answer `path` (query ignored): `responses` in order, the last one repeats
 * (test/origin/server.ts POST /__script). Scripted paths can wait before answering (`delayMs`),
 * which is how the bench makes the origin slow or hang for one path only.
 */
export async function scriptOrigin(originUrl: string, path: string, ...responses: ResponseSpec[]): Promise<void> {
  const res = await fetch(`${originUrl}/__script`, { method: "POST", body: JSON.stringify({ path, responses }), signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  if (!res.ok) throw new BenchError(`origin /__script ${path}: expected 200, got ${res.status}`);
}

/**
 * The requests the origin received for exactly `path` (with its query), from its own request log
 * (GET /__log; it keeps the newest 20,000 requests, so read it soon after the requests were made).
 * Scripted paths have no X-Origin-Count counter: this log is the origin's record of them.
 */
export async function originRequests(originUrl: string, path: string): Promise<LoggedRequest[]> {
  const res = await fetch(`${originUrl}/__log?prefix=${encodeURIComponent(path)}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new BenchError(`origin /__log: expected 200, got ${res.status}`);
  return ((await res.json()) as LoggedRequest[]).filter((r) => r.path === path);
}
