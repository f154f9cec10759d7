/**
 * The test origin: a real HTTP server on loopback that the worker under test (inside workerd)
 * fetches over the network, exactly as it would a Django origin.
 *
 * - Every request is logged; `GET /__log?prefix=/t/abc` returns what the origin saw.
 * - `POST /__script` with `{"path": "/t/abc/x", "responses": [spec, ...]}` tells it how to answer that
 *   path (query ignored): responses are used in order, the last one repeats. A spec may set status,
 *   headers, body, a delay before headers, or a connection reset before headers / mid-body.
 * - Unscripted `/t/...` paths answer 200 text with no caching headers and a per-path counter.
 * - Everything else is the demo blog (demo/site.ts).
 *
 * Runs under vitest's globalSetup and standalone (`node test/origin/server.ts [port]`) for the bench.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { demoSite } from "../../demo/site.ts";
import type { LoggedRequest, ResponseSpec } from "./protocol.ts";

const LOG_LIMIT = 20_000;

export interface RunningOrigin {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Start the origin on 127.0.0.1 (port 0: any free port). */
export async function startOrigin(port = 0): Promise<RunningOrigin> {
  const log: LoggedRequest[] = [];
  const scripts = new Map<string, { responses: ResponseSpec[]; next: number }>();
  const counters = new Map<string, number>();
  let seq = 0;

  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? "/", "http://origin.local");
      if (url.pathname === "/__log") return sendJson(res, log.filter((e) => e.path.startsWith(url.searchParams.get("prefix") ?? "/")));
      if (url.pathname === "/__script" && req.method === "POST") {
        const { path, responses } = JSON.parse(body) as { path: string; responses: ResponseSpec[] };
        scripts.set(path, { responses, next: 0 });
        return sendJson(res, { ok: true });
      }
      if (url.pathname === "/__ping") return sendJson(res, { ok: true });

      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
      log.push({ seq: ++seq, method: req.method ?? "GET", path: url.pathname + url.search, headers, body });
      if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT);

      const script = scripts.get(url.pathname);
      if (script) {
        const spec = script.responses[Math.min(script.next, script.responses.length - 1)] ?? {};
        script.next++;
        return await sendSpec(req, res, spec);
      }
      if (url.pathname.startsWith("/t/")) {
        const n = (counters.get(url.pathname) ?? 0) + 1;
        counters.set(url.pathname, n);
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "x-origin-count": String(n) });
        return res.end(`${url.pathname}${url.search} #${n}\n`);
      }
      return await sendFetchResponse(res, demoSite(toRequest(req, url, body)));
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`test origin error: ${(e as Error).message}\n`);
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function sendSpec(req: IncomingMessage, res: ServerResponse, spec: ResponseSpec): Promise<void> {
  if (spec.delayMs) await new Promise((r) => setTimeout(r, spec.delayMs));
  if (spec.reset === "headers") {
    req.socket.destroy();
    return;
  }
  const body = (spec.body ?? "scripted\n") + (spec.echoCookie ? `cookie=${req.headers.cookie ?? "none"}` : "");
  if (spec.earlyHints) res.writeEarlyHints({ link: "</static/app.css>; rel=preload; as=style" });
  const headers: Record<string, string | string[]> = { "content-type": "text/plain; charset=utf-8", ...spec.headers };
  if (spec.reset === "mid-body") {
    // Promise the whole length, send half, then drop the connection.
    res.writeHead(spec.status ?? 200, { ...headers, "content-length": String(Buffer.byteLength(body)) });
    res.write(body.slice(0, Math.floor(body.length / 2)));
    await new Promise((r) => setTimeout(r, 20));
    req.socket.destroy();
    return;
  }
  if (spec.compress) {
    const packed = spec.compress === "gzip" ? gzipSync(body) : brotliCompressSync(body);
    res.writeHead(spec.status ?? 200, [...flat(headers), ["content-encoding", spec.compress], ["content-length", String(packed.byteLength)], ...(spec.rawHeaders ?? [])].flat());
    res.end(req.method === "HEAD" ? undefined : packed);
    return;
  }
  if (spec.rawHeaders) {
    res.writeHead(spec.status ?? 200, [...flat(headers), ...spec.rawHeaders].flat());
    res.end(req.method === "HEAD" || spec.status === 304 || spec.status === 204 ? undefined : body);
    return;
  }
  res.writeHead(spec.status ?? 200, headers);
  if (spec.bodyDelayMs && req.method !== "HEAD") {
    res.write(body.slice(0, Math.floor(body.length / 2)));
    await new Promise((r) => setTimeout(r, spec.bodyDelayMs));
    res.end(body.slice(Math.floor(body.length / 2)));
    return;
  }
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Header pairs from a record (arrays become repeated lines); writeHead takes them flattened. */
function flat(headers: Record<string, string | string[]>): [string, string][] {
  return Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v] as [string, string]]));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function toRequest(req: IncomingMessage, url: URL, body: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
  const method = req.method ?? "GET";
  const host = req.headers.host ?? "origin.local";
  return new Request(`http://${host}${url.pathname}${url.search}`, {
    method,
    headers,
    body: method === "GET" || method === "HEAD" ? null : body,
  });
}

async function sendFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => { headers[k] = v; });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

function sendJson(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

// Standalone: `node test/origin/server.ts [port]` (the bench and manual runs).
if (import.meta.url === `file://${process.argv[1]}`) {
  const origin = await startOrigin(Number(process.argv[2] ?? 0));
  console.log(`test origin listening on ${origin.url}`);
}
