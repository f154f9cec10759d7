/**
 * Property tests (fast-check) for the pure modules a client's bytes reach: cookies, Cache-Control,
 * tags and the cache key. Two kinds of property:
 *   - robustness: arbitrary strings (unicode, control characters, huge inputs) never make them throw;
 *   - meaning: the key is idempotent and blind to parameter order and tracking parameters, cookie
 *     stripping never removes a cookie the origin reads, session cookies are always found.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_ANALYTICS_COOKIES, DEFAULT_TRACKING_PARAMS } from "../../src/defaults.ts";
import { analyseCookies, matchesAny } from "../../src/cookies.ts";
import { DELTA_SECONDS_MAX, deltaSeconds, formatCacheControl, parseCacheControl } from "../../src/http/cache-control.ts";
import { buildKey, foldLanguage, type KeyOptions, normalisePath, normaliseQuery } from "../../src/key.ts";
import { MAX_TAG_LENGTH, parseTagHeaders, tagProblem } from "../../src/tags.ts";

const ANALYTICS = DEFAULT_ANALYTICS_COOKIES;
const SESSION = ["sessionid"];
const TRACKING = DEFAULT_TRACKING_PARAMS;
const OPTS: KeyOptions = { cacheVersion: "1", trackingParams: TRACKING, languages: [] };
const OPTS_LANG: KeyOptions = { cacheVersion: "7", trackingParams: TRACKING, languages: ["en", "fr", "pt-br", "zh-hant"] };

/** Runs for properties over huge inputs (each input is tens of kilobytes). */
const BIG = { numRuns: 20 };

// ---- generators ------------------------------------------------------------------------------

/** Any string: UTF-16 code units including lone surrogates, control characters, NUL. */
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.string({ unit: "binary-ascii", maxLength: 200 }),
);
/** Huge strings (20 KB - 500 KB), built by repetition so generation stays fast. */
const hugeString = fc
  .tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 40 }), fc.integer({ min: 500, max: 12_000 }))
  .map(([s, n]) => s.repeat(n));
/** Strings made of the characters that matter to the parsers under test, so separators collide often. */
const punctuated = (alphabet: string, maxLength = 80) =>
  fc.string({ unit: fc.constantFrom(...alphabet.split("")), maxLength });

/** An RFC 6265 token (cookie name). */
const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}$/);
/** Real analytics cookie names: exact ones and instances of the prefix patterns. */
const analyticsName = fc.oneof(
  fc.constantFrom(...ANALYTICS.filter((p) => !p.endsWith("*"))),
  fc.tuple(fc.constantFrom(...ANALYTICS.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1))), fc.stringMatching(/^[A-Za-z0-9_]{0,10}$/))
    .map(([prefix, rest]) => prefix + rest),
);
/** Other cookie names, including look-alikes of analytics names ("ga", "_gax", "my_ga"). */
const otherName = fc
  .oneof(token, fc.constantFrom("csrftoken", "theme", "lang", "ga", "_gax", "my_ga", "_g", "utm", "SESSIONID", "sessionid_x", "messages"))
  .filter((n) => !matchesAny(n, ANALYTICS) && !matchesAny(n, SESSION));
/** RFC 6265 cookie-octet values, possibly empty, possibly quoted. */
const cookieValue = fc.oneof(
  fc.stringMatching(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,24}$/),
  fc.stringMatching(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,12}$/).map((v) => `"${v}"`),
);
const cookiePair = (name: fc.Arbitrary<string>) => fc.tuple(name, cookieValue).map(([n, v]) => `${n}=${v}`);
const separator = fc.constantFrom(";", "; ", ";  ", " ; ", ";;", "; ;");
/** A Cookie header from pairs, with the separators browsers and broken clients use. */
function cookieHeader(pairs: string[], seps: string[]): string {
  return pairs.map((p, i) => (i === 0 ? p : `${seps[i % Math.max(1, seps.length)] ?? "; "}${p}`)).join("");
}

const trackingName = fc.oneof(
  fc.constantFrom(...TRACKING.filter((p) => !p.endsWith("*"))),
  fc.constantFrom("UTM_Source", "utm_medium", "utm_campaign", "utm_", "Utm_Content", "GCLID", "FbClId"),
  fc.stringMatching(/^[a-z0-9_]{0,10}$/).map((s) => `utm_${s}`),
);
const paramName = fc
  .oneof(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }), fc.constantFrom("page", "q", "id", "utm", "ga", "sort[]", "a b", "x;y", "a&b", "c=d"))
  .filter((n) => !matchesAny(n.toLowerCase(), TRACKING));
const paramValue = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 6 }), fc.constantFrom("", "&admin=1", "a;b=c", "#frag", "?x", "%26", "+", " "));
const query = (params: [string, string][]) => new URLSearchParams(params).toString();

const SITE = "https://www.example.com";
const pathArb = fc.oneof(
  fc.webPath(),
  fc.string({ unit: "binary", maxLength: 60 }).map((s) => `/${s}`),
  punctuated("/.%2eE5cCfF0aA?#;\\~x", 40).map((s) => `/${s}`),
);

/** A URL string `new URL()` accepts, or null. */
function parse(u: string): URL | null {
  try {
    return new URL(u);
  } catch {
    return null;
  }
}
function urlOf(pathAndQuery: string): URL {
  const u = parse(`${SITE}${pathAndQuery}`);
  if (!u) throw new Error(`test generator produced an unparseable URL: ${pathAndQuery}`);
  return u;
}
const noHeaders = new Headers();

// ---- cookies -----------------------------------------------------------------------------------

describe("analyseCookies (properties)", () => {
  it("never throws on arbitrary headers, and its answer is self-consistent", () => {
    fc.assert(fc.property(fc.oneof(anyString, punctuated(";= \t\"_gasesionid,"), fc.constant(null)), (header) => {
      const r = analyseCookies(header, { analytics: ANALYTICS, session: SESSION });
      expect(r.forward === null || r.forward.length > 0).toBe(true);
      for (const name of r.stripped) expect(matchesAny(name, ANALYTICS)).toBe(true);
      for (const name of r.session) expect(matchesAny(name, SESSION)).toBe(true);
    }));
  });

  it("never throws on huge headers", () => {
    fc.assert(fc.property(hugeString, (header) => {
      analyseCookies(header, { analytics: ANALYTICS, session: SESSION });
    }), BIG);
    fc.assert(fc.property(fc.array(cookiePair(fc.oneof(analyticsName, otherName)), { minLength: 2000, maxLength: 4000 }), (pairs) => {
      const r = analyseCookies(pairs.join("; "), { analytics: ANALYTICS, session: SESSION });
      expect(r.stripped.length + (r.forward?.split("; ").length ?? 0)).toBe(pairs.length);
    }), { numRuns: 5 });
  });

  it("strips exactly the analytics cookies: every other cookie is forwarded, unchanged and in order", () => {
    const named = fc.oneof(
      analyticsName.map((n) => ({ n, analytics: true })),
      otherName.map((n) => ({ n, analytics: false })),
    );
    fc.assert(fc.property(fc.array(fc.tuple(named, cookieValue), { maxLength: 20 }), fc.array(separator, { minLength: 1, maxLength: 5 }), (cookies, seps) => {
      const pairs = cookies.map(([c, v]) => `${c.n}=${v}`);
      const r = analyseCookies(cookieHeader(pairs, seps), { analytics: ANALYTICS, session: SESSION });
      const kept = r.forward === null ? [] : r.forward.split("; ");
      // Every kept cookie is not an analytics cookie...
      for (const pair of kept) expect(matchesAny(pair.slice(0, pair.indexOf("=")), ANALYTICS)).toBe(false);
      // ...and every non-analytics cookie is kept, byte for byte, in its original order.
      expect(kept).toEqual(cookies.filter(([c]) => !c.analytics).map(([c, v]) => `${c.n}=${v}`));
      expect(r.stripped).toEqual(cookies.filter(([c]) => c.analytics).map(([c]) => c.n));
    }));
  });

  it("stripping is idempotent: the forwarded header has nothing left to strip", () => {
    fc.assert(fc.property(fc.oneof(anyString, fc.array(cookiePair(fc.oneof(analyticsName, otherName)), { maxLength: 10 }).map((p) => p.join("; "))), (header) => {
      const once = analyseCookies(header, { analytics: ANALYTICS, session: SESSION });
      const twice = analyseCookies(once.forward, { analytics: ANALYTICS, session: SESSION });
      expect(twice.forward).toBe(once.forward);
      expect(twice.stripped).toEqual([]);
    }));
  });

  it("finds sessionid=<non-empty> wherever it is in the header", () => {
    const sessionValue = cookieValue.filter((v) => v !== "" && v !== '""');
    fc.assert(fc.property(
      fc.array(cookiePair(fc.oneof(analyticsName, otherName)), { maxLength: 12 }),
      sessionValue, fc.nat(), fc.array(separator, { minLength: 1, maxLength: 4 }), fc.constantFrom("", " ", "\t"),
      (others, value, at, seps, pad) => {
        const pairs = [...others];
        pairs.splice(at % (others.length + 1), 0, `${pad}sessionid${pad}=${pad}${value}`);
        const r = analyseCookies(cookieHeader(pairs, seps), { analytics: ANALYTICS, session: SESSION });
        expect(r.session).toEqual(["sessionid"]);
        // The session cookie itself is forwarded: the origin needs it.
        expect(r.forward).toContain(`=${pad}${value}`);
      },
    ));
  });

  it("finds no session when there is no non-empty sessionid", () => {
    fc.assert(fc.property(
      fc.array(cookiePair(fc.oneof(analyticsName, otherName)), { maxLength: 12 }), fc.constantFrom("sessionid=", 'sessionid=""', "sessionid", ""),
      (others, empty) => {
        expect(analyseCookies([...others, empty].join("; "), { analytics: ANALYTICS, session: SESSION }).session).toEqual([]);
      },
    ));
  });
});

// ---- Cache-Control -------------------------------------------------------------------------------

const DIRECTIVES = ["max-age", "s-maxage", "no-store", "no-cache", "private", "public", "must-revalidate", "immutable", "stale-while-revalidate"];

describe("parseCacheControl / deltaSeconds (properties)", () => {
  const check = (value: string | null) => {
    const cc = parseCacheControl(value);
    for (const name of [...cc.keys(), ...DIRECTIVES]) {
      expect(name).toMatch(/^[a-z0-9!#$%&'*+.^_`|~-]+$/);
      const d = deltaSeconds(cc, name);
      if (d !== undefined) {
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(DELTA_SECONDS_MAX);
      }
    }
  };

  it("never throws on arbitrary values; directive names are tokens, delta-seconds are integers in [0, 2^31]", () => {
    fc.assert(fc.property(fc.oneof(anyString, punctuated('=," \\\t0123456789max-ages-maxageno-store'), fc.constant(null)), check));
  });

  it("never throws on huge values", () => {
    fc.assert(fc.property(hugeString, check), BIG);
    fc.assert(fc.property(fc.integer({ min: 1000, max: 20_000 }), (n) => {
      check(`max-age=${"9".repeat(n)}`);
      check(`${"a=\"".repeat(n)}`);
      check(`${"max-age=1, ".repeat(n)}no-store`);
    }), { numRuns: 5 });
  });

  it("format then parse gives back what was parsed (no directive invented, lost or changed)", () => {
    fc.assert(fc.property(fc.oneof(anyString, punctuated('=," \\\tabc019-')), (value) => {
      const cc = parseCacheControl(value);
      expect(parseCacheControl(formatCacheControl(cc))).toEqual(cc);
    }));
  });

  it("a well-formed header: the first occurrence of each directive wins, names case-insensitive", () => {
    const directive = fc.tuple(
      fc.oneof(fc.constantFrom(...DIRECTIVES), fc.stringMatching(/^[a-z][a-z-]{0,8}$/)),
      fc.boolean(),
      fc.option(fc.oneof(fc.nat().map(String), fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.string({ maxLength: 8 }).map((s) => `"${s.replace(/["\\]/g, "\\$&")}"`)), { nil: undefined }),
    );
    fc.assert(fc.property(fc.array(directive, { maxLength: 10 }), fc.constantFrom(",", ", ", " ,", ",,"), (dirs, sep) => {
      const text = dirs.map(([n, upper, v]) => `${upper ? n.toUpperCase() : n}${v === undefined ? "" : `=${v}`}`).join(sep);
      const cc = parseCacheControl(text);
      const expected = new Map<string, string | true>();
      for (const [n, , v] of dirs) {
        if (expected.has(n)) continue;
        expected.set(n, v === undefined ? true : v.startsWith('"') ? v.slice(1, -1).replace(/\\([\s\S])/g, "$1") : v);
      }
      expect(cc).toEqual(expected);
    }));
  });

  it("delta-seconds: digits give their value capped at 2^31; anything else gives 0 (stale, never fresher)", () => {
    fc.assert(fc.property(fc.stringMatching(/^\d{1,40}$/), (digits) => {
      expect(deltaSeconds(parseCacheControl(`max-age=${digits}`), "max-age")).toBe(Math.min(Number(digits), DELTA_SECONDS_MAX));
    }));
    const malformed = fc.oneof(
      fc.constantFrom("", "abc", "-1", "1.5", "1e3", "0x10", "+5", "5s", "１２", "Infinity", "NaN", "12 34"),
      fc.string({ maxLength: 8 }).filter((s) => !/^\s*\d+\s*$/.test(s) && !s.includes(",") && !s.includes('"')),
    );
    fc.assert(fc.property(malformed, (v) => {
      expect(deltaSeconds(parseCacheControl(`s-maxage=${v}`), "s-maxage")).toBe(0);
    }));
    expect(deltaSeconds(parseCacheControl("max-age"), "max-age")).toBe(0);
  });
});

// ---- tags ----------------------------------------------------------------------------------------

/** A header value the Headers class accepts (no NUL, CR, LF). */
const headerSafe = (s: string) => s.replace(/[\0\r\n]/g, " ");
/**
 * Header values: ASCII with control characters, plus a little unicode. (workerd accepts non-ASCII
 * header values but warns for each one, so unicode is exercised without Headers, above.)
 */
const headerValue = fc.oneof(
  { arbitrary: fc.string({ unit: "binary-ascii", maxLength: 200 }).map(headerSafe), weight: 9 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }).map(headerSafe), weight: 1 },
);

describe("tagProblem / parseTagHeaders (properties)", () => {
  it("tagProblem never throws and accepts exactly 1-1024 printable ASCII characters without spaces", () => {
    fc.assert(fc.property(fc.oneof(anyString, fc.stringMatching(/^[\x21-\x7e]{1,1100}$/), fc.constant("")), (tag) => {
      const ok = tag.length >= 1 && tag.length <= MAX_TAG_LENGTH && /^[\x21-\x7e]+$/.test(tag);
      expect(tagProblem(tag) === null).toBe(ok);
    }));
    fc.assert(fc.property(hugeString, (tag) => {
      expect(tagProblem(tag) === null).toBe(tag.length <= MAX_TAG_LENGTH && /^[\x21-\x7e]+$/.test(tag));
    }), BIG);
  });

  const tagText = fc.oneof(
    headerValue,
    fc.array(fc.oneof(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), fc.constantFrom("Post_1", "post_1", "caf\u00e9", "x".repeat(1100))), { maxLength: 30 })
      .chain((tags) => fc.constantFrom(",", " ", ", ", "\t").map((sep) => tags.join(sep))),
  );

  it("never throws; every tag it returns is valid, lower case, unique, within the budget; every input token is accounted for", () => {
    fc.assert(fc.property(tagText, tagText, fc.integer({ min: 0, max: 20_000 }), (a, b, budget) => {
      const headers = new Headers({ "cache-tag": a, "surrogate-key": b });
      const r = parseTagHeaders(headers, ["Cache-Tag", "Surrogate-Key", "X-Cache-Tag"], budget);
      for (const t of r.tags) {
        expect(tagProblem(t)).toBeNull();
        expect(t).toBe(t.toLowerCase());
      }
      expect(new Set(r.tags).size).toBe(r.tags.length);
      expect(r.tags.reduce((n, t) => n + t.length + 1, 0)).toBeLessThanOrEqual(budget);
      const tokens = [headers.get("cache-tag"), headers.get("surrogate-key")]
        .flatMap((v) => (v ? v.split(/[,\s]+/) : [])).filter((t) => t !== "").map((t) => t.toLowerCase());
      for (const t of tokens) {
        const accounted = r.tags.includes(t) || r.dropped.some((d) => d.tag === t.slice(0, 64));
        expect(accounted).toBe(true);
      }
    }));
  });

  it("never throws on huge tag headers and stays within the budget", () => {
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z0-9_]{1,30}$/), { minLength: 2000, maxLength: 6000 }), (tags) => {
      const r = parseTagHeaders(new Headers({ "cache-tag": tags.join(",") }), ["cache-tag"], 16 * 1024);
      expect(r.tags.reduce((n, t) => n + t.length + 1, 0)).toBeLessThanOrEqual(16 * 1024);
    }), { numRuns: 10 });
    const hugeAscii = fc.tuple(fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 40 }), fc.integer({ min: 500, max: 12_000 })).map(([s, n]) => headerSafe(s.repeat(n)));
    fc.assert(fc.property(hugeAscii, (v) => {
      parseTagHeaders(new Headers({ "x-cache-tag": v }), ["x-cache-tag"], 16 * 1024);
    }), BIG);
  });
});

// ---- the cache key -------------------------------------------------------------------------------

describe("key building (properties)", () => {
  it("normaliseQuery and foldLanguage never throw on arbitrary strings", () => {
    fc.assert(fc.property(fc.oneof(anyString, punctuated("?&=;%#+ 2aAfF0utm_gclid", 80)), (s) => {
      normaliseQuery(s, TRACKING);
      const lang = foldLanguage(s, OPTS_LANG.languages);
      expect(OPTS_LANG.languages).toContain(lang);
      expect(foldLanguage(s, [])).toBeUndefined();
    }));
    fc.assert(fc.property(hugeString, (s) => {
      normaliseQuery(s, TRACKING);
      foldLanguage(s, OPTS_LANG.languages);
    }), BIG);
  });

  it("normalisePath never throws on any path a URL can have, and is idempotent", () => {
    fc.assert(fc.property(fc.oneof(pathArb, hugeString.map((s) => `/${s.slice(0, 20_000)}`)), (raw) => {
      const u = parse(`${SITE}${raw.startsWith("/") ? raw : `/${raw}`}`);
      fc.pre(u !== null);
      const p = normalisePath(u!.pathname);
      expect(p.startsWith("/")).toBe(true);
      expect(p).not.toMatch(/\/\//);
      expect(normalisePath(p)).toBe(p);
    }));
  });

  // normalisePath's input is always a URL's pathname (key.ts, purge.ts), where "\" cannot occur in
  // http(s) URLs. On a raw string it treats "/\" as an authority: see the report.
  it("normalisePath never throws on arbitrary strings (\"/\\\\[\" throws; \"/\\\\evil.com/x\" loses a segment)", () => {
    fc.assert(fc.property(fc.oneof(anyString, punctuated("/\\[:.%2e", 20)), (s) => {
      normalisePath(s);
    }));
    expect(normalisePath("/\\evil.com/x")).not.toBe("/x");
  });

  it("buildKey never throws for any URL, and its parts are consistent", () => {
    const anyUrl = fc.oneof(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.tuple(pathArb, fc.oneof(anyString, punctuated("?&=;%#+ 2aAfF0utm_", 60))).map(([p, q]) => `${SITE}${p}?${q}`),
    );
    fc.assert(fc.property(anyUrl, fc.option(headerValue, { nil: undefined }), (raw, lang) => {
      const url = parse(raw);
      fc.pre(url !== null);
      const headers = new Headers(lang === undefined ? {} : { "accept-language": lang });
      for (const opts of [OPTS, OPTS_LANG]) {
        const k = buildKey(url!, headers, opts);
        expect(k.url).toBe(`${url!.protocol}//${url!.host}${k.path}${k.query ? `?${k.query}` : ""}`);
        expect(k.key.startsWith(`${url!.protocol}//${url!.host}/__ec/v=${opts.cacheVersion}`)).toBe(true);
        expect(k.key.endsWith(`${k.path}${k.query ? `?${k.query}` : ""}`)).toBe(true);
      }
    }));
  });

  it("is idempotent: the key of the URL made from the normalised path and query is the same key", () => {
    const anyUrl = fc.oneof(
      fc.webUrl({ withQueryParameters: true }),
      fc.tuple(pathArb, fc.oneof(anyString, punctuated("?&=;%#+ 2aAfF0utm_", 60))).map(([p, q]) => `${SITE}${p}?${q}`),
      fc.tuple(pathArb, fc.array(fc.tuple(fc.oneof(paramName, trackingName), paramValue), { maxLength: 8 })).map(([p, ps]) => `${SITE}${p}?${query(ps)}`),
    );
    fc.assert(fc.property(anyUrl, fc.constantFrom("fr-CA,fr;q=0.9", "en", "*", "zh-Hant-TW", "xx"), (raw, lang) => {
      const url = parse(raw);
      fc.pre(url !== null);
      const headers = new Headers({ "accept-language": lang });
      for (const opts of [OPTS, OPTS_LANG]) {
        const k = buildKey(url!, headers, opts);
        const again = buildKey(new URL(k.url), headers, opts);
        expect(again.key).toBe(k.key);
        expect(again.url).toBe(k.url);
        expect(again.dropped).toEqual([]);
        expect(normaliseQuery(k.query, TRACKING).query).toBe(k.query);
      }
    }));
  });

  const uniqueParams = fc.uniqueArray(fc.tuple(paramName, paramValue), { selector: ([n]) => n, maxLength: 10 });

  it("is insensitive to parameter order: every permutation gives the same key", () => {
    fc.assert(fc.property(
      uniqueParams.chain((ps) => fc.tuple(fc.constant(ps), fc.shuffledSubarray(ps, { minLength: ps.length, maxLength: ps.length }))),
      pathArb,
      ([params, shuffled], path) => {
        const u1 = parse(`${SITE}${path.replace(/[?#]/g, "")}?${query(params)}`);
        fc.pre(u1 !== null);
        const u2 = urlOf(`${u1!.pathname}?${query(shuffled)}`);
        expect(buildKey(u2, noHeaders, OPTS).key).toBe(buildKey(u1!, noHeaders, OPTS).key);
      },
    ));
  });

  it("is insensitive to tracking parameters added anywhere, whatever their values", () => {
    fc.assert(fc.property(
      uniqueParams,
      fc.array(fc.tuple(trackingName, paramValue, fc.nat()), { minLength: 1, maxLength: 6 }),
      (params, tracking) => {
        const decorated: [string, string][] = [...params];
        for (const [n, v, at] of tracking) decorated.splice(at % (decorated.length + 1), 0, [n, v]);
        const clean = buildKey(urlOf(`/p?${query(params)}`), noHeaders, OPTS);
        const k = buildKey(urlOf(`/p?${query(decorated)}`), noHeaders, OPTS);
        expect(k.key).toBe(clean.key);
        expect(k.dropped.sort()).toEqual(tracking.map(([n]) => n).sort());
      },
    ));
  });

  it("keeps the order of repeated parameters: ?id=a&id=b and ?id=b&id=a never share a key", () => {
    fc.assert(fc.property(paramName, paramValue, paramValue, uniqueParams, (name, a, b, others) => {
      fc.pre(a !== b);
      const rest = others.filter(([n]) => n !== name);
      const k1 = buildKey(urlOf(`/p?${query([[name, a], ...rest, [name, b]])}`), noHeaders, OPTS);
      const k2 = buildKey(urlOf(`/p?${query([[name, b], ...rest, [name, a]])}`), noHeaders, OPTS);
      expect(k1.key).not.toBe(k2.key);
    }));
  });

  it("distinct kept parameter sets never share a key", () => {
    fc.assert(fc.property(uniqueParams, uniqueParams, (a, b) => {
      const sorted = (ps: [string, string][]) => query([...ps].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
      fc.pre(sorted(a) !== sorted(b));
      expect(buildKey(urlOf(`/p?${query(a)}`), noHeaders, OPTS).key).not.toBe(buildKey(urlOf(`/p?${query(b)}`), noHeaders, OPTS).key);
    }));
  });

  it("foldLanguage: a supported tag in any case, alone or with a region, picks that language", () => {
    fc.assert(fc.property(fc.constantFrom(...OPTS_LANG.languages).chain((l) => fc.tuple(fc.constant(l), fc.mixedCase(fc.constant(l)))), fc.constantFrom("", "-x1", "-CA"), ([lang, spelled], region) => {
      expect(foldLanguage(`${spelled}${region}`, OPTS_LANG.languages)).toBe(lang);
    }));
  });
});
