import { describe, expect, it } from "vitest";
import { DEFAULT_ANALYTICS_COOKIES } from "./defaults.ts";
import { analyseCookies, matchesAny } from "./cookies.ts";

const A = DEFAULT_ANALYTICS_COOKIES;
const S = ["sessionid"];

describe("analyseCookies", () => {
  it.each([
    // header, forwarded, stripped, session
    [null, null, [], []],
    ["", null, [], []],
    ["_ga=GA1.2.3.4", null, ["_ga"], []],
    ["_ga=1; _gid=2; _gat_UA123=1; _ga_ABC=3", null, ["_ga", "_gid", "_gat_UA123", "_ga_ABC"], []],
    ["__utma=1; __utmz=2; __utmxyz=3", null, ["__utma", "__utmz", "__utmxyz"], []],
    ["_fbp=fb.1; _gcl_au=1; _hjSessionUser_1=x", null, ["_fbp", "_gcl_au", "_hjSessionUser_1"], []],
    ["theme=dark; _ga=1", "theme=dark", ["_ga"], []],
    ["_ga=1; csrftoken=abc; _gid=2; lang=fr", "csrftoken=abc; lang=fr", ["_ga", "_gid"], []],
    ["sessionid=xyz; _ga=1", "sessionid=xyz", ["_ga"], ["sessionid"]],
    ["sessionid=", "sessionid=", [], []],
    ["sessionid=\"\"", "sessionid=\"\"", [], []],
    // Broken headers: stray separators, no "=", odd spacing, unparseable values are kept byte for byte.
    [";;; ;", null, [], []],
    ["  theme = dark ;;_ga=1;", "theme = dark", ["_ga"], []],
    ["justaname; _ga", "justaname", ["_ga"], []],
    ["weird=%E0%A4%A; x=\"quoted;value\"", "weird=%E0%A4%A; x=\"quoted; value\"", [], []],
    // Look-alikes are not analytics cookies.
    ["ga=1; _gax=2; my_ga=3", "ga=1; _gax=2; my_ga=3", [], []],
    ["SESSIONID=abc", "SESSIONID=abc", [], []],
  ] as const)("%j", (header, forward, stripped, session) => {
    const r = analyseCookies(header, { analytics: A, session: S });
    expect(r.forward).toBe(forward);
    expect(r.stripped).toEqual(stripped);
    expect(r.session).toEqual(session);
  });

  it("honours configured session cookie patterns", () => {
    expect(analyseCookies("wordpress_logged_in_abc=1", { analytics: A, session: ["wordpress_logged_in_*"] }).session).toEqual(["wordpress_logged_in_abc"]);
  });
});

describe("matchesAny", () => {
  it.each([
    ["_ga", ["_ga"], true],
    ["_ga_X", ["_ga_*"], true],
    ["_ga", ["_ga_*"], false],
    ["x", ["*"], true],
    ["abc", [], false],
  ] as const)("%s ~ %j = %s", (name, patterns, expected) => {
    expect(matchesAny(name, patterns)).toBe(expected);
  });
});

describe("session detection across comma-joined Cookie fields", () => {
  it.each([
    ["a=1, sessionid=abc", ["sessionid"]],
    ["theme=dark; a=1, sessionid=abc; _ga=2", ["sessionid"]],
    ["a=1, sessionid=", []],
  ])("%s", (header, session) => {
    expect(analyseCookies(header, { analytics: A, session: S }).session).toEqual(session);
  });
});
