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
import { createPurgeClient, type PurgeBody, PurgeError, type PurgeResult } from "../client/purge-client.ts";
import { parseFlags, printJson, resolveEndpoint, run, splitCommas, UsageError } from "./lib/cli.ts";
import { formatPairs, formatTable } from "./lib/table.ts";

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

interface Plan {
  endpoint: string;
  token: string;
  body: PurgeBody;
  json: boolean;
}

/** Parse and validate everything before any request is sent; undefined when --help was printed. */
function plan(argv: string[], env: Record<string, string | undefined>): Plan | undefined {
  const args = parseFlags(argv, {
    usage: USAGE,
    options: {
      tag: { type: "string", multiple: true },
      url: { type: "string", multiple: true },
      prefix: { type: "string", multiple: true },
      host: { type: "string", multiple: true },
      everything: { type: "boolean" },
      endpoint: { type: "string" },
      token: { type: "string" },
    },
  });
  if (!args) return undefined;
  const v = args.values;

  // Empty items are kept (and rejected below), repeats sent as given.
  const tags = splitCommas(v.tag);
  const hosts = splitCommas(v.host);
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

  const endpoint = purgeEndpoint(resolveEndpoint(v.endpoint, env, true), env.EDGE_CACHE_PURGE_PATH);
  return { endpoint, token: resolveToken(v.token ?? env.PURGE_TOKEN), body, json: !!v.json };
}

/** The purge API's URL: the base URL plus EDGE_CACHE_PURGE_PATH (default /__edge/purge), or a base URL that has a path, as is. */
function purgeEndpoint(url: URL, purgePath: string | undefined): string {
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

function formatResult(endpoint: string, r: PurgeResult): string {
  const kinds: [string, number][] = [
    ["files", r.files],
    ["tags", r.tags],
    ["prefixes", r.prefixes],
    ["hosts", r.hosts],
  ];
  const shown = r.everything ? [["everything", "yes"] as [string, string]] : kinds.filter(([, n]) => n > 0).map(([k, n]) => [k, String(n)] as [string, string]);
  return [
    `Purged via ${endpoint}`,
    "",
    formatTable([{ header: "KIND" }, { header: "COUNT", align: "right" }], shown),
    "",
    formatPairs([
      ["invalidated tags", String(r.invalidated_tags)],
      ["soft", r.soft ? "yes (entries made stale)" : "no"],
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
  const p = plan(process.argv.slice(2), process.env);
  if (!p) return 0;
  warnInsecure(p.endpoint);
  const client = createPurgeClient({ endpoint: p.endpoint, token: p.token });
  try {
    const result = await client.purge(p.body);
    if (p.json) printJson(result);
    else process.stdout.write(`${formatResult(p.endpoint, result)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof PurgeError)) throw e;
    if (p.json) printJson({ success: false, status: e.status, errors: e.errors, message: e.message, completed: e.completed });
    process.stderr.write(`error: ${e.message}\n`);
    if (e.completed.length) process.stderr.write(`(${e.completed.length} earlier batch(es) were purged; repeating the whole purge is safe)\n`);
    return 1;
  }
}

await run(main);
