/**
 * A sloppy origin, as real apps are, for the security tests: it reflects request headers and
 * cookies into pages it marks `public, max-age=300` without any Vary, and routes paths as a WSGI
 * server does (PATH_INFO is percent-decoded, `%2F` included) or, in "lenient" mode, as lenient
 * routers do (also case-insensitive, `;params` stripped, dot segments resolved after decoding).
 *
 * Pages: /cart/ and /account/ are personal (keyed on the cart_id / sessionid cookies, yet marked
 * public); /admin/ likewise; /static/… is an asset; everything else reflects what it was sent.
 * `GET /__log` returns what it received, as the main test origin does.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { LoggedRequest } from "./protocol.ts";

export type RouterMode = "wsgi" | "lenient";

/** How the origin's router sees the path. */
export function routed(rawPath: string, mode: RouterMode): string {
  let p: string;
  try {
    p = decodeURIComponent(rawPath);
  } catch {
    p = rawPath;
  }
  if (mode === "wsgi") return p;
  p = p.toLowerCase().split("/").map((seg) => seg.split(";")[0]).join("/");
  return new URL(p.replace(/[?#]/g, encodeURIComponent), "http://lenient.invalid").pathname;
}

const cookie = (header: string | undefined, name: string) => new RegExp(`(?:^|;\\s*)${name}=([^;]*)`).exec(header ?? "")?.[1];

/** The page for one request: status, headers, body. */
export function sloppyPage(method: string, rawPath: string, query: URLSearchParams, h: Record<string, string>, mode: RouterMode) {
  const path = routed(rawPath, mode);
  const pub = { "cache-control": "public, max-age=300" };
  if (path.startsWith("/cart/")) return { status: 200, headers: { ...pub, "content-type": "text/html" }, body: `Cart of ${cookie(h.cookie, "cart_id") ?? "nobody"}` };
  if (path.startsWith("/account/") || path.startsWith("/admin/")) {
    const who = cookie(h.cookie, "sessionid") ?? cookie(h.cookie, "cart_id") ?? "nobody";
    const json = query.has("json");
    return { status: 200, headers: { ...pub, "content-type": json ? "application/json" : "text/html" }, body: json ? JSON.stringify({ account: who }) : `Account of ${who}` };
  }
  if (path.startsWith("/static/")) {
    const type = query.get("type") === "json" ? "application/json" : query.get("type") === "text" ? "text/plain" : "text/css";
    return { status: 200, headers: { ...pub, "content-type": type }, body: type === "text/css" ? "body{}" : `{"user":"${cookie(h.cookie, "sessionid") ?? "nobody"}"}` };
  }
  if (path.startsWith("/missing/")) return { status: 404, headers: { "cache-control": "public, max-age=600", "content-type": "text/html" }, body: "not found" };
  // Django's LocaleMiddleware: the language cookie first, then Accept-Language.
  const lang = cookie(h.cookie, "django_language") ?? (h["accept-language"] ?? "en").split(/[,;-]/)[0]!.trim();
  const seen = {
    method, path, lang, theme: cookie(h.cookie, "theme") ?? null, messages: cookie(h.cookie, "messages") ?? null,
    userAgent: h["user-agent"] ?? null, accept: h.accept ?? null, requestId: h["x-request-id"] ?? null,
    traceparent: h.traceparent ?? null, tracestate: h.tracestate ?? null, device: h["x-device"] ?? null,
  };
  const wantsJson = (h.accept ?? "").includes("application/json");
  return {
    status: 200,
    headers: { ...pub, "content-type": wantsJson ? "application/json" : "text/html", "x-trace": h.tracestate ?? "", "content-language": lang },
    body: wantsJson ? JSON.stringify(seen) : `<p lang="${lang}">${Object.entries(seen).map(([k, v]) => `${k}=${v}`).join(" | ")}</p>`,
  };
}

/** Start a sloppy origin on loopback. */
export async function startSloppyOrigin(mode: RouterMode): Promise<{ url: string; close(): Promise<void> }> {
  const log: LoggedRequest[] = [];
  let seq = 0;
  const server: Server = createServer((req, res) => {
    const raw = req.url ?? "/";
    const [rawPath = "/", search = ""] = raw.split("?", 2) as [string, string?];
    if (rawPath === "/__log") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(log));
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    log.push({ seq: ++seq, method: req.method ?? "GET", path: raw, headers, body: "" });
    const page = sloppyPage(req.method ?? "GET", rawPath, new URLSearchParams(search), headers, mode);
    res.writeHead(page.status, page.headers);
    res.end(req.method === "HEAD" ? undefined : page.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
