/**
 * Purge the edge cache from the command line, through the worker's purge API.
 *
 *   npm run purge -- --tag post_42 --tag category_news
 *   npm run purge -- --url https://www.example.com/blog/answer/ --prefix www.example.com/blog/
 *   npm run purge -- --host www.example.com
 *   npm run purge -- --everything
 *
 * Environment: EDGE_CACHE_URL (the worker's base URL, e.g. http://127.0.0.1:8787), PURGE_TOKEN,
 * EDGE_CACHE_PURGE_PATH (default /__edge/purge). --endpoint and --token override them.
 * Exit codes: 0 purged, 1 the purge failed, 2 bad usage (nothing was sent).
 */
import { parseArgs } from "node:util";
import { createPurgeClient, type PurgeBody, PurgeError, type PurgeResult } from "../client/purge-client.ts";

const DEFAULT_PATH = "/__edge/purge";

const USAGE = `Purge edge-cache entries through the worker's purge API.

Usage: npm run purge -- [what to purge] [options]

What to purge (repeat any flag; --everything must be alone):
  --tag <tag>        a cache tag, e.g. post_42 (a comma-separated list is split)
  --url <url>        an absolute URL, e.g. https://www.example.com/blog/answer/
  --prefix <prefix>  host + path prefix, e.g. www.example.com/blog/
  --host <host>      every entry of a host, e.g. www.example.com (commas split)
  --everything       the whole cache

Options:
  --endpoint <url>   worker base URL (default: $EDGE_CACHE_URL); a URL with a path
                     is used as the full purge endpoint
  --token <token>    purge token (default: $PURGE_TOKEN; prefer the variable: flags
                     end up in shell history and process lists)
  --json             print the result as JSON
  -h, --help         show this help

Environment:
  EDGE_CACHE_URL         the worker's base URL, e.g. http://127.0.0.1:8787
  EDGE_CACHE_PURGE_PATH  purge path on it (default ${DEFAULT_PATH})
  PURGE_TOKEN            the worker's PURGE_TOKEN

More than 100 items are sent as several requests (the API's limit per request).
Exit status: 0 purged, 1 purge failed, 2 usage error (nothing sent).`;

class UsageError extends Error {}

interface Plan {
  endpoint: string;
  token: string;
  body: PurgeBody;
  json: boolean;
}

function splitList(values: string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((v) => v.trim());
}

/** Parse and validate everything before any request is sent. */
function plan(argv: string[], env: Record<string, string | undefined>): Plan | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        tag: { type: "string", multiple: true },
        url: { type: "string", multiple: true },
        prefix: { type: "string", multiple: true },
        host: { type: "string", multiple: true },
        everything: { type: "boolean" },
        endpoint: { type: "string" },
        token: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";

  const tags = splitList(v.tag ?? []);
  const hosts = splitList(v.host ?? []);
  const urls = (v.url ?? []).map((u) => u.trim());
  const prefixes = (v.prefix ?? []).map((p) => p.trim());
  const count = tags.length + hosts.length + urls.length + prefixes.length;

  if (v.everything && count > 0) throw new UsageError("--everything cannot be combined with --tag, --url, --prefix or --host");
  if (!v.everything && count === 0) throw new UsageError("nothing to purge: give --tag, --url, --prefix, --host or --everything");
  for (const t of tags) {
    if (t === "") throw new UsageError("--tag: empty tag");
    if (!/^[\x21-\x7e]+$/.test(t)) throw new UsageError(`--tag ${JSON.stringify(t)}: tags are printable ASCII without spaces`);
    if (t.length > 1024) throw new UsageError(`--tag: a tag is at most 1024 characters`);
  }
  for (const h of hosts) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(h)) throw new UsageError(`--host ${JSON.stringify(h)}: not a host name (no scheme, no path)`);
  }
  for (const u of urls) {
    let url: URL | null = null;
    try {
      url = new URL(u);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new UsageError(`--url ${JSON.stringify(u)}: give an absolute http(s) URL, e.g. https://www.example.com/blog/answer/`);
    }
  }
  for (const p of prefixes) {
    if (p === "" || /[?#\s]/.test(p)) throw new UsageError(`--prefix ${JSON.stringify(p)}: give host/path, e.g. www.example.com/blog/ (no query, no spaces)`);
  }

  const body: PurgeBody = v.everything
    ? { purge_everything: true }
    : {
        ...(urls.length ? { files: urls } : {}),
        ...(tags.length ? { tags } : {}),
        ...(prefixes.length ? { prefixes } : {}),
        ...(hosts.length ? { hosts } : {}),
      };

  return { endpoint: resolveEndpoint(v.endpoint ?? env.EDGE_CACHE_URL, env.EDGE_CACHE_PURGE_PATH), token: resolveToken(v.token ?? env.PURGE_TOKEN), body, json: !!v.json };
}

function resolveEndpoint(base: string | undefined, purgePath: string | undefined): string {
  if (!base) throw new UsageError("set EDGE_CACHE_URL to the worker's base URL (e.g. http://127.0.0.1:8787) or pass --endpoint");
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(`EDGE_CACHE_URL / --endpoint ${JSON.stringify(base)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError("EDGE_CACHE_URL / --endpoint must be an http(s) URL");
  if (url.search || url.hash) throw new UsageError("EDGE_CACHE_URL / --endpoint must not have a query or fragment");
  if (purgePath !== undefined && purgePath !== "" && !/^\/[A-Za-z0-9._~/-]*$/.test(purgePath)) {
    throw new UsageError(`EDGE_CACHE_PURGE_PATH ${JSON.stringify(purgePath)} must be a path starting with /`);
  }
  if (url.pathname !== "/") {
    if (purgePath) throw new UsageError("give either a base URL plus EDGE_CACHE_PURGE_PATH, or a full purge endpoint URL, not both");
    return url.href;
  }
  return new URL(purgePath || DEFAULT_PATH, url).href;
}

function resolveToken(token: string | undefined): string {
  if (!token) throw new UsageError("set PURGE_TOKEN (the worker's purge token) or pass --token");
  if (/\s/.test(token)) throw new UsageError("PURGE_TOKEN must not contain whitespace");
  return token;
}

/** Two aligned columns: label, value. */
function table(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join("\n");
}

function formatResult(endpoint: string, r: PurgeResult): string {
  const kinds: [string, number][] = [
    ["files", r.files],
    ["tags", r.tags],
    ["prefixes", r.prefixes],
    ["hosts", r.hosts],
  ];
  const shown = r.everything ? [["everything", "yes"] as [string, string]] : kinds.filter(([, n]) => n > 0).map(([k, n]) => [k, String(n)] as [string, string]);
  const countWidth = Math.max(5, ...shown.map(([, n]) => n.length));
  const kindWidth = Math.max(4, ...shown.map(([k]) => k.length));
  const head = `  ${"KIND".padEnd(kindWidth)}  ${"COUNT".padStart(countWidth)}`;
  const lines = shown.map(([k, n]) => `  ${k.padEnd(kindWidth)}  ${n.padStart(countWidth)}`);
  return [
    `Purged via ${endpoint}`,
    "",
    head,
    ...lines,
    "",
    table([
      ["invalidated tags", String(r.invalidated_tags)],
      ["deleted here", String(r.deleted_here)],
      ["zone purge", r.zone_purge],
      ["purged_at", r.purged_at],
      [r.requests === 1 ? "request id" : `requests (${r.requests})`, r.ids.join(", ")],
    ]),
  ].join("\n");
}

function warnInsecure(endpoint: string): void {
  const url = new URL(endpoint);
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol === "http:" && !local) process.stderr.write(`warning: sending the purge token over plain http to ${url.host}\n`);
}

async function main(): Promise<number> {
  let p: Plan | "help";
  try {
    p = plan(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`error: ${e.message}\n\nRun with --help for usage.\n`);
    return 2;
  }
  if (p === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  warnInsecure(p.endpoint);
  const client = createPurgeClient({ endpoint: p.endpoint, token: p.token });
  try {
    const result = await client.purge(p.body);
    process.stdout.write(p.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatResult(p.endpoint, result)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof PurgeError)) throw e;
    if (p.json) {
      const out = { success: false, status: e.status, errors: e.errors, message: e.message, completed: e.completed };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    }
    process.stderr.write(`error: ${e.message}\n`);
    if (e.completed.length) process.stderr.write(`(${e.completed.length} earlier batch(es) were purged; repeating the whole purge is safe)\n`);
    return 1;
  }
}

process.exitCode = await main();
