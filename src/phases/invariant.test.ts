/**
 * The invariant, as a property: on a request that may be served from or stored into the shared
 * cache, everything the origin receives is a function of the cache key. Two requests with the same
 * key send byte-identical origin requests (method, path, query, headers), whatever else they carry:
 * arbitrary headers, cookies, casing, duplicates, control characters.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config.ts";
import type { OriginRequest } from "../origin.ts";
import { recv } from "./recv.ts";

const config = parseConfig({
  EDGE_CONFIG: {
    languages: ["en", "fr", "de"], keyCookies: ["currency"], forwardHeaders: ["X-Device"], deviceClass: true,
    keyHeaders: [{ name: "Accept", classes: { "application/json": ["json"] }, otherwise: "text/html" }],
  },
});

const printable = fc.string({ unit: fc.constantFrom(..." !\"#$%&'()*+,-./0123456789:;<=>?@ABCxyz[\\]^_`{|}~") , maxLength: 12 });
const controlish = fc.string({ unit: fc.constantFrom("\t", "\x1c", "\x1f", "\x7f", "a", " ", "=", ";", ","), maxLength: 6 });
const headerValue = fc.oneof(
  fc.constantFrom("en", "fr-CA,fr;q=0.9", "de", "*", "application/json", "text/html", "Mozilla/5.0 (iPhone) Mobile", "Mozilla/5.0 (X11)", "phone", "tablet", "evil.example", "1.2.3.4"),
  printable,
);
const headerName = fc.oneof(
  fc.constantFrom(
    "user-agent", "accept", "accept-language", "accept-encoding", "x-device", "x-request-id", "traceparent", "tracestate",
    "x-forwarded-host", "x-forwarded-for", "x-forwarded-proto", "forwarded", "cf-connecting-ip", "cf-ray", "x-original-url",
    "referer", "origin", "if-none-match", "range", "cache-control", "pragma", "x-real-ip", "cf-device-type",
  ),
  fc.stringMatching(/^x-[a-z]{1,5}$/),
);
const cookiePair = fc.tuple(
  fc.oneof(fc.constantFrom("currency", "django_language", "theme", "_ga", "csrftoken", "messages", "sessionid"), fc.stringMatching(/^[a-z_]{1,6}$/)),
  fc.oneof(fc.constantFrom("eur", "usd", "de", "fr", "dark", "1", ""), printable, controlish),
).map(([n, v]) => `${n}=${v}`);
const request = fc.record({
  path: fc.constantFrom("/", "/blog/a/", "/blog/a", "/api/x/", "/static/a.css", "/Blog/a/"),
  params: fc.subarray([["utm_source", "x"], ["page", "2"], ["gclid", "1"], ["a", "1"], ["a", "2"]] as [string, string][]),
  method: fc.constantFrom("GET", "HEAD"),
  headers: fc.array(fc.tuple(headerName, headerValue, fc.boolean()), { maxLength: 8 }),
  cookies: fc.array(cookiePair, { maxLength: 4 }),
  separator: fc.constantFrom("; ", ";", ", "),
});

/** Requests from a small space, so that distinct requests often share a key. */
const collider = fc.record({
  path: fc.constantFrom("/", "/blog/a/"),
  params: fc.subarray([["utm_source", "x"], ["page", "2"]] as [string, string][]),
  method: fc.constantFrom("GET", "HEAD"),
  headers: fc.array(fc.tuple(
    fc.oneof(fc.constantFrom("accept-language", "x-device", "accept", "user-agent"), headerName),
    fc.oneof(fc.constantFrom("fr", "de-DE", "phone", "application/json", "text/html", "Mozilla/5.0 (iPhone) Mobile"), headerValue),
    fc.boolean(),
  ), { maxLength: 6 }),
  cookies: fc.array(fc.oneof(fc.constantFrom("currency=eur", "django_language=de", "theme=dark", "_ga=1"), cookiePair), { maxLength: 3 }),
  separator: fc.constantFrom("; ", ";"),
});

type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never;

function toRequest(g: Generated): Request {
  const url = new URL(g.path, "https://www.example.com");
  for (const [k, v] of g.params) url.searchParams.append(k, v);
  const headers = new Headers();
  for (const [name, value, upper] of g.headers) {
    try {
      headers.append(upper ? name.toUpperCase() : name, value);
    } catch { /* a value the platform refuses is not a request anyone can send */ }
  }
  if (g.cookies.length) {
    try {
      headers.set("cookie", g.cookies.join(g.separator));
    } catch { /* likewise */ }
  }
  return new Request(url, { method: g.method, headers });
}

/** Everything the origin receives: method, target, every header. */
function wire(o: OriginRequest): string {
  return JSON.stringify([o.method, o.publicUrl.href, o.pathAndQuery, [...o.headers].sort(), o.body === null]);
}

function cacheable(g: Generated) {
  const v = recv(toRequest(g), config);
  return v.kind === "lookup" || v.kind === "refresh" ? v.facts : null;
}

describe("the origin request of a cacheable request is a function of its key", () => {
  it("any two cacheable requests with one key send byte-identical origin requests", () => {
    let compared = 0;
    fc.assert(fc.property(collider, collider, (a, b) => {
      const fa = cacheable(a);
      const fb = cacheable(b);
      if (fa === null || fb === null || fa.key.key !== fb.key.key) return;
      compared++;
      expect(wire(fa.originRequest())).toBe(wire(fb.originRequest()));
    }), { numRuns: 5000 });
    expect(compared).toBeGreaterThan(100); // the space is small enough that keys do collide
  });

  it("noise a client adds (headers, cookies, casing, tracking parameters) never changes the origin request", () => {
    const noise = fc.record({
      headers: fc.array(fc.tuple(headerName, headerValue, fc.boolean()), { maxLength: 6 }),
      cookies: fc.array(fc.tuple(fc.constantFrom("theme", "_ga", "_gid", "csrftoken", "messages", "x"), fc.constantFrom("1", "dark", "<script>")).map(([n, v]) => `${n}=${v}`), { maxLength: 3 }),
    });
    const unkeyed = new Set(["accept", "accept-language", "x-device", "user-agent", "cookie"]);
    fc.assert(fc.property(request, noise, (base, extra) => {
      // Appended as separate pairs ("; "): a ", " inside a value is part of that value, to Django as to us.
      fc.pre(base.separator !== ", " || base.cookies.length === 0);
      const noisy = { ...base, headers: [...base.headers, ...extra.headers.filter(([n]) => !unkeyed.has(n))], cookies: [...base.cookies, ...extra.cookies], separator: "; " as const };
      const fa = cacheable(base);
      const fb = cacheable(noisy);
      fc.pre(fa !== null && fb !== null);
      expect(fb!.key.key).toBe(fa!.key.key);
      expect(wire(fb!.originRequest())).toBe(wire(fa!.originRequest()));
    }), { numRuns: 2000 });
  });

  it("the origin hears only keyed or worker-set headers, and only keyed cookies", () => {
    const allowed = new Set(["user-agent", "accept", "accept-encoding", "accept-language", "cookie", "x-device", "cf-device-type", "x-forwarded-host", "x-forwarded-proto", "x-real-ip"]);
    fc.assert(fc.property(request, (g) => {
      const f = cacheable(g);
      fc.pre(f !== null);
      const o = f!.originRequest();
      for (const [name] of o.headers) expect(allowed.has(name)).toBe(true);
      const cookie = o.headers.get("cookie");
      if (cookie !== null) expect(cookie).toMatch(/^currency=[^;]*$/);
    }), { numRuns: 2000 });
  });
});
