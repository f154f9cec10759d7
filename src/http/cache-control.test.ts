import { describe, expect, it } from "vitest";
import { deltaSeconds, formatCacheControl, parseCacheControl } from "./cache-control.ts";

describe("parseCacheControl (RFC 9111 §5.2)", () => {
  it.each([
    [null, {}],
    ["", {}],
    ["public, max-age=300", { public: true, "max-age": "300" }],
    ["MAX-AGE=5, No-Store", { "max-age": "5", "no-store": true }],
    ["max-age=1, max-age=2", { "max-age": "1" }],
    ['private="set-cookie, x", max-age=3', { private: "set-cookie, x", "max-age": "3" }],
    [",,, ,public,,", { public: true }],
    ["max-age = 10", { "max-age": "10" }],
    ['ext="a\\"b"', { ext: 'a"b' }],
    ["=oops, good", { good: true }],
    ['unterminated="abc', { unterminated: "abc" }],
  ])("%s", (value, expected) => {
    expect(Object.fromEntries(parseCacheControl(value))).toEqual(expected);
  });

  it("reads delta-seconds conservatively", () => {
    const cc = parseCacheControl("max-age=10, s-maxage=abc, stale-while-revalidate");
    expect(deltaSeconds(cc, "max-age")).toBe(10);
    expect(deltaSeconds(cc, "s-maxage")).toBe(0);
    expect(deltaSeconds(cc, "stale-while-revalidate")).toBe(0);
    expect(deltaSeconds(cc, "min-fresh")).toBeUndefined();
  });

  it("round-trips", () => {
    const v = 'public, max-age=300, private="a b"';
    expect(formatCacheControl(parseCacheControl(v))).toBe(v);
  });
});
