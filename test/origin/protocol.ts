/** What tests and the test origin (server.ts) exchange: no Node imports, so workerd code can use it. */

export interface ResponseSpec {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  /** Wait this long before sending headers. */
  delayMs?: number;
  /** Send the headers and half the body, wait this long, then the rest. */
  bodyDelayMs?: number;
  /** "headers": destroy the socket before any response; "mid-body": after half the body. */
  reset?: "headers" | "mid-body";
  /** Send the body compressed, with Content-Encoding and the compressed Content-Length. */
  compress?: "gzip" | "br";
  /** Send a 103 Early Hints interim response first. */
  earlyHints?: boolean;
  /** Append `cookie=<the request's Cookie header, or "none">` to the body (a personal fragment). */
  echoCookie?: boolean;
  /** Send exactly these raw header lines (name, value), repeats allowed, after `headers`. */
  rawHeaders?: [string, string][];
}

export interface LoggedRequest {
  seq: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}
