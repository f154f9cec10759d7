/**
 * The test origin (test/origin/server.ts standalone) in its own Node process, so it does not share
 * an event loop with the load generator. Unscripted /t/... paths answer 200 text with no caching
 * headers and a per-path counter (X-Origin-Count), which the correctness checks read.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
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
