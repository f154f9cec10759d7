import { describe, expect, it } from "vitest";
import { DEFAULT_TRACKING_PARAMS } from "./defaults.ts";
import { buildKey, foldLanguage, normalisePath, normaliseQuery } from "./key.ts";

const opts = { cacheVersion: "1", trackingParams: DEFAULT_TRACKING_PARAMS, languages: [] as string[] };
const key = (url: string, headers: HeadersInit = {}, o = opts) => buildKey(new URL(url), new Headers(headers), o);

describe("normaliseQuery", () => {
  it.each([
    ["", ""],
    ["?", ""],
    ["?b=2&a=1", "a=1&b=2"],
    ["?a=1&b=2", "a=1&b=2"],
    ["?utm_source=x&a=1&utm_medium=y", "a=1"],
    ["?UTM_Source=x&a=1", "a=1"],
    ["?gclid=1&fbclid=2&msclkid=3&mc_cid=4&mc_eid=5&q=x", "q=x"],
    // Repeated names keep their relative order (getlist semantics).
    ["?id=2&b=1&id=1", "b=1&id=2&id=1"],
    // Encoded separators stay encoded: they are values, never new parameters.
    ["?q=a%26b%3Dc", "q=a%26b%3Dc"],
    ["?q=a%23frag", "q=a%23frag"],
    // ";" is not a separator (Django splits on "&" only), so it cannot hide a parameter.
    ["?a=1;utm_source=x", "a=1%3Butm_source%3Dx"],
    // A utm value cannot smuggle another parameter.
    ["?utm_source=x%26admin%3D1&a=1", "a=1"],
    ["?q=hello world", "q=hello+world"],
    ["?q=hello+world", "q=hello+world"],
    ["?flag", "flag="],
  ])("%s -> %s", (search, expected) => {
    expect(normaliseQuery(search, DEFAULT_TRACKING_PARAMS).query).toBe(expected);
  });
});

describe("normalisePath", () => {
  it.each([
    ["/", "/"],
    ["/blog/x/", "/blog/x/"],
    ["//static//app.css", "/static/app.css"],
    ["/a/./b/../c", "/a/c"],
    ["/a/%2e%2e/b", "/b"],
    ["/static/%2E%2E/account/", "/account/"],
    ["/%7Euser/%41bc", "/~user/Abc"],
    ["/a%2fb", "/a%2Fb"],
    ["/caf%c3%a9", "/caf%C3%A9"],
  ])("%s -> %s", (input, expected) => {
    expect(normalisePath(input)).toBe(expected);
  });
});

describe("buildKey", () => {
  it("ignores parameter order and tracking parameters", () => {
    const a = key("https://example.com/p?b=2&a=1");
    const b = key("https://example.com/p?a=1&b=2&utm_source=news&gclid=z");
    expect(a.key).toBe(b.key);
    expect(b.dropped).toEqual(["utm_source", "gclid"]);
  });

  it.each([
    ["https://example.com/p", "https://example.com/__ec/v=1/p"],
    ["https://EXAMPLE.com:443/p?x=1", "https://example.com/__ec/v=1/p?x=1"],
    ["http://example.com/p", "http://example.com/__ec/v=1/p"],
    ["https://example.com/p?utm_campaign=a", "https://example.com/__ec/v=1/p"],
  ])("%s -> %s", (url, expected) => {
    expect(key(url).key).toBe(expected);
  });

  it("separates schemes, hosts, paths, queries and versions", () => {
    const keys = new Set([
      key("https://example.com/p").key,
      key("http://example.com/p").key,
      key("https://other.com/p").key,
      key("https://example.com/p/").key,
      key("https://example.com/p?a=1").key,
      key("https://example.com/p", {}, { ...opts, cacheVersion: "2" }).key,
      // A path that looks like our prefix cannot collide with a real key.
      key("https://example.com/__ec/v=1/p").key,
    ]);
    expect(keys.size).toBe(7);
  });

  it("folds Accept-Language into the key when languages are configured", () => {
    const o = { ...opts, languages: ["en", "fr", "de"] };
    expect(key("https://e.com/", { "accept-language": "fr-CA,fr;q=0.9,en;q=0.5" }, o).key).toBe("https://e.com/__ec/v=1;lang=fr/");
    expect(key("https://e.com/", { "accept-language": "fr-CA,fr;q=0.9" }, o).key).toBe(key("https://e.com/", { "accept-language": "fr" }, o).key);
    expect(key("https://e.com/", {}, o).language).toBe("en");
    expect(key("https://e.com/", { "accept-language": "ja" }, o).language).toBe("en");
    // Without languages the header is not a dimension at all.
    expect(key("https://e.com/", { "accept-language": "fr" }).key).toBe(key("https://e.com/").key);
  });

  it("keeps the URL identity shared by all variants", () => {
    const o = { ...opts, languages: ["en", "fr"] };
    const en = key("https://e.com/x?b=1&a=2", { "accept-language": "en" }, o);
    const fr = key("https://e.com/x?a=2&b=1&utm_source=q", { "accept-language": "fr" }, o);
    expect(en.url).toBe("https://e.com/x?a=2&b=1");
    expect(fr.url).toBe(en.url);
    expect(fr.key).not.toBe(en.key);
  });
});

describe("foldLanguage", () => {
  const sup = ["en", "fr", "pt-BR"];
  it.each([
    [null, "en"],
    ["", "en"],
    ["fr", "fr"],
    ["FR-fr", "fr"],
    ["de, fr;q=0.5", "fr"],
    ["en;q=0.1, fr;q=0.9", "fr"],
    ["fr;q=0", "en"],
    ["*", "en"],
    ["pt-br", "pt-BR"],
    ["pt", "en"],
    ["garbage;;;q=x,,", "en"],
  ])("%s -> %s", (header, expected) => {
    expect(foldLanguage(header, sup)).toBe(expected);
  });
});
