import { describe, expect, it } from "vitest";
import { parseConfig } from "../config.ts";
import { headersTooLarge } from "../policy.ts";
import { recv } from "./recv.ts";

const config = parseConfig({});
const nocache = parseConfig({ EDGE_CONFIG: { allowNocacheParam: true, honorClientNoCache: true } });

describe("recv: where a request goes", () => {
  it.each([
    // method, path, headers, expected verdict, condition
    ["GET", "/", {}, "lookup", null],
    ["HEAD", "/", {}, "lookup", null],
    ["POST", "/", {}, "pass", "method"],
    ["PUT", "/", {}, "pass", "method"],
    ["DELETE", "/", {}, "pass", "method"],
    ["PATCH", "/", {}, "pass", "method"],
    ["OPTIONS", "/", {}, "pass", "method"],
    ["GET", "/admin/", {}, "pass", "rule"],
    ["GET", "/health", {}, "pass", "rule"],
    ["GET", "/", { cookie: "sessionid=abc" }, "pass", "session"],
    ["GET", "/", { cookie: "sessionid=" }, "lookup", null],
    ["GET", "/", { authorization: "Bearer x" }, "pass", "authorization"],
    ["GET", "/cart%2F", {}, "pass", "ambiguous-path"],
    ["GET", "/a;b/", {}, "pass", "ambiguous-path"],
    ["GET", "/ADMIN/users/", {}, "pass", "rule"],
    ["GET", "/", { cookie: "\x1fsessionid=abc" }, "pass", "ambiguous-cookie"],
    ["GET", "/?nocache", {}, "lookup", null],
  ] as const)("%s %s %j -> %s (%s)", (method, path, headers, kind, condition) => {
    const v = recv(new Request(`https://e.com${path}`, { method, headers }), config);
    expect(v.kind).toBe(kind);
    expect("condition" in v ? v.condition.name : null).toBe(condition);
  });

  it.each([
    ["/?nocache", {}, "pass", "nocache-param"],
    ["/", { "cache-control": "no-cache" }, "refresh", "client-no-cache"],
    ["/", { pragma: "no-cache" }, "refresh", "client-no-cache"],
    ["/", { "cache-control": "max-age=0" }, "lookup", null],
  ] as const)("opt-in switches: %s %j -> %s (%s)", (path, headers, kind, condition) => {
    const v = recv(new Request(`https://e.com${path}`, { headers }), nocache);
    expect(v.kind).toBe(kind);
    expect("condition" in v ? v.condition.name : null).toBe(condition);
  });

  it("answers an oversized URL itself; oversized headers are refused before the origin is asked", () => {
    expect(recv(new Request(`https://e.com/${"a".repeat(9000)}`), config)).toMatchObject({ kind: "synth", status: 414 });
    expect(headersTooLarge(new Request("https://e.com/", { headers: { "x-big": "a".repeat(40_000) } }), config.maxHeaderBytes)).toMatchObject({ status: 431 });
    expect(headersTooLarge(new Request("https://e.com/", { headers: { "x-small": "a" } }), config.maxHeaderBytes)).toBeNull();
  });

  it("every condition says why (explain prints it)", async () => {
    const { SKIP_CONDITIONS } = await import("./recv.ts");
    for (const c of SKIP_CONDITIONS) expect(c.why.length).toBeGreaterThan(10);
  });
});
