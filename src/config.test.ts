import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./config.ts";
import { DEFAULT_RULES } from "./defaults.ts";

describe("parseConfig", () => {
  it("defaults reproduce the documented policy", () => {
    const c = parseConfig({});
    expect(c.rules).toEqual(DEFAULT_RULES);
    expect(c.sessionCookies).toEqual(["sessionid"]);
    expect(c.allowNocacheParam).toBe(false);
    expect(c.negativeTtl).toBe(60);
    expect(c.cacheVersion).toBe("1");
  });

  it("merges rules into the defaults by name; replaceRules takes the list as the whole policy", () => {
    const html = { name: "html", paths: ["*"], cacheControl: "public, max-age=60, s-maxage=120" };
    const blog = { name: "blog", paths: ["/blog/*"], cacheControl: "public, max-age=30" };
    const merged = parseConfig({ EDGE_CONFIG: { rules: [html, blog] } }).rules;
    expect(merged.map((r) => r.name)).toEqual(["admin", "health", "blog", "static", "media", "api", "html"]);
    // A new catch-all cannot make admin or health pages cacheable.
    const pages = parseConfig({ EDGE_CONFIG: { rules: [{ name: "pages", paths: ["*"], cacheControl: "public, max-age=60" }] } }).rules;
    expect(pages.map((r) => r.name).slice(0, 3)).toEqual(["admin", "health", "pages"]);
    // Names compare case-insensitively: "HTML" replaces html.
    const upper = parseConfig({ EDGE_CONFIG: { rules: [{ ...html, name: "HTML" }] } }).rules;
    expect(upper.map((r) => r.name)).toEqual(["admin", "health", "static", "media", "api", "HTML"]);
    // A user's narrower rule under a default's prefix is not shadowed by it.
    const priv = { name: "private-media", paths: ["/media/private/*"], bypass: true };
    const withPriv = parseConfig({ EDGE_CONFIG: { rules: [priv] } }).rules;
    expect(withPriv[2]?.name).toBe("private-media");
    expect(merged.find((r) => r.name === "html")?.cacheControl).toBe("public, max-age=60, s-maxage=120");
    expect(merged.find((r) => r.name === "admin")?.bypass).toBe(true);
    const replaced = parseConfig({ EDGE_CONFIG: { rules: [html], replaceRules: true } }).rules;
    expect(replaced.map((r) => r.name)).toEqual(["html"]);
  });

  it("names EDGE_CONFIG for a misspelled option", () => {
    expect(() => parseConfig({ EDGE_CONFIG: { extraTrackingParam: ["ref"] } })).toThrow(/EDGE_CONFIG: Unrecognized key: "extraTrackingParam"/);
  });

  it("accepts EDGE_CONFIG as JSON text or as an object, simple vars win", () => {
    expect(parseConfig({ EDGE_CONFIG: '{"languages":["en","fr"]}' }).languages).toEqual(["en", "fr"]);
    expect(parseConfig({ EDGE_CONFIG: { negativeTtl: 30 } }).negativeTtl).toBe(30);
    const c = parseConfig({ EDGE_CONFIG: { cacheVersion: "a" }, CACHE_VERSION: "b", ORIGIN_URL: "https://o.example.com" });
    expect(c.cacheVersion).toBe("b");
    expect(c.originUrl).toBe("https://o.example.com");
  });

  it.each([
    ["{not json", /EDGE_CONFIG is not valid JSON/],
    ["[]", /must be a JSON object/],
    ['{"negativeTtl": -1}', /negativeTtl/],
    ['{"unknownOption": 1}', /unrecognized key.*unknownOption|unknownOption/i],
    ['{"rules": [], "replaceRules": true}', /replaceRules needs at least one rule/],
    ['{"rules": [{"name": "x", "paths": ["static/*"], "cacheControl": "max-age=1"}]}', /rules\[0\]\.paths\[0\]: must be "\*" or start with "\/"/],
    ['{"rules": [{"name": "x", "paths": ["/a*b"], "cacheControl": "max-age=1"}]}', /only allowed at the end/],
    ['{"rules": [{"name": "x", "paths": ["/"]}]}', /rules\[0\]\.cacheControl: needs cacheControl unless bypass/],
    ['{"rules": [{"name": "x", "paths": ["/"], "cacheControl": "public"}]}', /needs max-age or s-maxage/],
    ['{"rules": [{"name": "x", "paths": ["/"], "cacheControl": "max-age=1", "mode": "sometimes"}]}', /rules\[0\]\.mode/],
    ['{"rules": [{"name": "x", "paths": ["/"], "bypass": true}, {"name": "x", "paths": ["*"], "bypass": true}]}', /duplicate rule name "x"/],
    ['{"originUrl": "not a url"}', /originUrl/],
    ['{"originUrl": "ftp://x"}', /origins\[0\]: must be http or https \(originUrl \/ ORIGIN_URL\)/],
    ['{"cacheVersion": "has space"}', /cacheVersion/],
    ['{"languages": ["english!"]}', /languages\[0\]/],
    ['{"keyCookies": ["sessionid"]}', /keyCookies: sessionid is a session cookie/],
    ['{"rules": [{"name": "x", "paths": ["/"], "bypass": true, "esi": true}]}', /esi needs a cached rule/],
    ['{"shield": {"enabled": true, "locationHint": "mars"}}', /shield\.locationHint/],
    ['{"staleWaitMs": -1}', /staleWaitMs/],
  ])("rejects %s", (raw, reason) => {
    expect(() => parseConfig({ EDGE_CONFIG: raw })).toThrow(ConfigError);
    expect(() => parseConfig({ EDGE_CONFIG: raw })).toThrow(reason);
  });
});
