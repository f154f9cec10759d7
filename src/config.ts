/**
 * Configuration: parsed, validated and compiled once per isolate from wrangler vars, never per
 * request. The result is a frozen object holding every derived value (merged cookie and parameter
 * lists, lower-cased header sets, key options), so no request recomputes them.
 *
 * Sources (later wins):
 *   1. the defaults (defaults.ts), which reproduce the documented policy;
 *   2. `EDGE_CONFIG`: a JSON object (a string, or a TOML table under `[vars.EDGE_CONFIG]`);
 *   3. simple vars for the things people change most: `ORIGIN_URL`, `CACHE_VERSION`, `CF_ZONE_ID`.
 *
 * An invalid configuration throws {@link ConfigError} naming the offending field, so a deploy
 * (which evaluates the module) or `wrangler dev` fails loudly instead of every request answering
 * a mysterious 500. The options and their schemas are in options.ts (zod's tree-shakable
 * `zod/mini` build with only the English messages: the full build and its 64 locales was 80 % of
 * the worker's bundle).
 */
import { DEFAULT_RULES, FORWARDED_BY_DEFAULT } from "./defaults.ts";
import { type CookieRules, matchesAny } from "./cookies.ts";
import type { HeaderDimension, KeyOptions } from "./key.ts";
import type { FillHeaders } from "./origin.ts";
import { ConfigError, type Parsed, type Rule, validate } from "./options.ts";
import { type BypassPattern, bypassPatterns, matchRule } from "./policy.ts";

export { ConfigError, LOCATION_HINTS, MAX_PATH_PATTERN, type Rule } from "./options.ts";


/** Values computed once from the parsed options. */
interface Derived {
  /** Origins in order, from `origins` or `originUrl` / ORIGIN_URL. */
  origins: readonly string[];
  /** The rules in effect (defaults merged, or replaced). */
  rules: readonly Rule[];
  /** The bypass rules' patterns, lower-cased, for matching the path as an origin may route it. */
  bypassPatterns: readonly BypassPattern[];
  /** Analytics cookie patterns (defaults and extras merged), session, keyed and language cookies. */
  cookieRules: CookieRules;
  keyOptions: KeyOptions;
  /** What cache fills send in place of the client's headers. */
  fill: FillHeaders;
  /** Lower-cased: response headers tags are read from; request headers bypassed requests never forward. */
  tagHeaderNames: readonly string[];
  stripHeaderNames: readonly string[];
  /** The options as given (JSON): what a shield object parses to run with the same configuration. */
  source: string;
  /** Some rule assembles Edge Side Includes. */
  esi: boolean;
}

/** The compiled configuration: every option plus derived values, deeply frozen. */
export type Config = Readonly<Omit<Parsed, "origins" | "rules">> & Readonly<Derived>;
export type SecurityHeaders = Config["securityHeaders"];

/** The wrangler vars and secrets the config is read from (bindings live in Env). */
export interface ConfigVars {
  EDGE_CONFIG?: unknown;
  ORIGIN_URL?: string;
  CACHE_VERSION?: string;
  CF_ZONE_ID?: string;
}

/** Parse, validate and compile; throws ConfigError with every problem named ("rules[2].cacheControl: ..."). */
export function parseConfig(vars: ConfigVars): Config {
  const merged: Record<string, unknown> = { ...readEdgeConfig(vars.EDGE_CONFIG) };
  if (vars.ORIGIN_URL) merged.originUrl = vars.ORIGIN_URL;
  if (vars.CACHE_VERSION) merged.cacheVersion = vars.CACHE_VERSION;
  if (vars.CF_ZONE_ID) merged.zoneId = vars.CF_ZONE_ID;
  return compile(validate(merged), JSON.stringify(merged));
}

function readEdgeConfig(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === "") return {};
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new ConfigError(`EDGE_CONFIG is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ConfigError("EDGE_CONFIG must be a JSON object");
  return value as Record<string, unknown>;
}

function compile(parsed: Parsed, source: string): Config {
  const origins = parsed.origins.length ? parsed.origins : parsed.originUrl.split(",").map((u) => u.trim()).filter(Boolean);
  origins.forEach(checkOrigin);
  const rules = effectiveRules(parsed.rules, parsed.replaceRules);
  // A session cookie is a visitor's identity: keyed, it would make per-visitor entries (and ESI
  // templates fetched with it). Refused.
  const sessionKeyed = parsed.keyCookies.filter((name) => matchesAny(name, parsed.sessionCookies));
  if (sessionKeyed.length) throw new ConfigError(`invalid edge-cache configuration: keyCookies: ${sessionKeyed.join(", ")} is a session cookie (sessionCookies)`);
  const lower = (names: readonly string[]) => names.map((n) => n.toLowerCase());
  const config: Config = {
    ...parsed,
    origins,
    rules,
    bypassPatterns: bypassPatterns(rules),
    cookieRules: {
      analytics: [...parsed.analyticsCookies, ...parsed.extraAnalyticsCookies],
      session: parsed.sessionCookies,
      keyed: parsed.keyCookies,
      language: parsed.languages.length ? parsed.languageCookie : "",
    },
    fill: { userAgent: parsed.originUserAgent, accept: parsed.originAccept, forwardedHeaders: parsed.forwardedHeaders, requestIdHeader: parsed.requestIdHeader },
    keyOptions: {
      cacheVersion: parsed.cacheVersion,
      trackingParams: lower([...parsed.trackingParams, ...parsed.extraTrackingParams]),
      languages: parsed.languages,
      languageKeyed: (path) => matchRule(path, rules)?.language ?? true,
      headers: headerDimensions(parsed),
      deviceClass: parsed.deviceClass,
    },
    tagHeaderNames: lower(parsed.tagHeaders),
    stripHeaderNames: lower([...parsed.stripRequestHeaders, ...parsed.extraStripRequestHeaders]),
    source,
    esi: rules.some((r) => r.esi === true),
  };
  return deepFreeze(config);
}

/**
 * Keyed headers: `forwardHeaders` by value (minus the headers that used to be forwarded by
 * default: they now have their own mechanisms or are never sent), then `keyHeaders` by class.
 */
function headerDimensions(parsed: Parsed): HeaderDimension[] {
  const legacy = new Set(FORWARDED_BY_DEFAULT.map((h) => h.toLowerCase()));
  const byValue = [...new Set(parsed.forwardHeaders.map((h) => h.toLowerCase()))].filter((h) => !legacy.has(h));
  const byClass = parsed.keyHeaders.map((k) => ({
    name: k.name.toLowerCase(),
    classes: Object.entries(k.classes).map(([value, match]) => ({ value, match })),
    ...(k.otherwise !== undefined ? { otherwise: k.otherwise } : {}),
  }));
  return [...byValue.map((name) => ({ name })), ...byClass.filter((c) => !byValue.includes(c.name))];
}

function checkOrigin(origin: string, i: number): void {
  const field = `origins[${i}]`;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigError(`invalid edge-cache configuration: ${field}: "${origin}" is not a URL (originUrl / ORIGIN_URL)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`invalid edge-cache configuration: ${field}: must be http or https (originUrl / ORIGIN_URL)`);
  }
  if (url.search || url.hash) throw new ConfigError(`invalid edge-cache configuration: ${field}: must not have a query or fragment`);
}

function effectiveRules(rules: readonly Rule[], replace: boolean): Rule[] {
  const names = new Set<string>();
  for (const rule of rules) {
    const name = rule.name.toLowerCase();
    if (names.has(name)) throw new ConfigError(`invalid edge-cache configuration: rules: duplicate rule name "${rule.name}"`);
    names.add(name);
  }
  if (!replace) return mergeRules(DEFAULT_RULES, rules);
  if (rules.length === 0) throw new ConfigError("invalid edge-cache configuration: rules: replaceRules needs at least one rule");
  return [...rules];
}

/**
 * Rules merged by name (case-insensitively) into `base`: a rule named like a default replaces it in
 * place; new rules go right after the leading bypass rules (admin, health), in the order given. So
 * the bypasses keep precedence (a new "*" rule cannot make /admin/ cacheable), and a user's rule
 * (say a bypass for /media/private/) is never shadowed by a broader default.
 */
export function mergeRules(base: readonly Rule[], extra: readonly Rule[]): Rule[] {
  const out = [...base];
  const added: Rule[] = [];
  for (const rule of extra) {
    const same = out.findIndex((r) => r.name.toLowerCase() === rule.name.toLowerCase());
    if (same !== -1) out[same] = rule;
    else added.push(rule);
  }
  let bypasses = 0;
  while (bypasses < out.length && out[bypasses]!.bypass) bypasses++;
  return [...out.slice(0, bypasses), ...added, ...out.slice(bypasses)];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value) && !(value instanceof Set)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
