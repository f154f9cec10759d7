import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { inCidr, ipAllowed, isIpOrCidr, parseCidr, parseIp } from "./ip.ts";

describe("ip", () => {
  it.each([
    ["10.0.0.1", true], ["255.255.255.255", true], ["0.0.0.0", true], ["256.0.0.1", false], ["1.2.3", false], ["01.2.3.4", false],
    ["::1", true], ["::", true], ["2001:db8::1", true], ["2001:db8:0:0:0:0:0:1", true], ["::ffff:10.0.0.1", true],
    ["1:2:3:4:5:6:7:8", true], ["1:2:3:4:5:6:7:8:9", false], ["1::2::3", false], ["12345::", false], ["fe80::1%eth0", false],
    ["10.0.0.0/8", true], ["10.0.0.0/33", false], ["2001:db8::/32", true], ["2001:db8::/129", false], ["x", false], ["", false],
  ])("isIpOrCidr(%s) = %s", (s, ok) => {
    expect(isIpOrCidr(s)).toBe(ok);
  });

  it.each([
    ["203.0.113.7", ["203.0.113.0/24"], true],
    ["203.0.114.7", ["203.0.113.0/24"], false],
    ["::ffff:203.0.113.7", ["203.0.113.0/24"], true],
    ["2001:db8::5", ["2001:db8::/32"], true],
    ["2001:db9::5", ["2001:db8::/32"], false],
    ["10.1.2.3", ["192.168.0.1", "10.0.0.0/8"], true],
    ["192.168.0.1", ["192.168.0.1"], true],
    ["not-an-ip", ["0.0.0.0/0"], false],
    ["1.2.3.4", [], true],
  ] as const)("ipAllowed(%s, %j) = %s", (ip, allow, ok) => {
    expect(ipAllowed(ip, allow)).toBe(ok);
  });

  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."));
  const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => ipaddr.IPv6.parse(g.map((x) => x.toString(16)).join(":")).toString());

  it("agrees with ipaddr.js on addresses and ranges of one family (property)", () => {
    fc.assert(fc.property(fc.oneof(fc.tuple(v4, v4, fc.nat(32)), fc.tuple(v6, v6, fc.nat(128))), ([a, base, bits]) => {
      const range = `${base}/${bits}`;
      const theirs = ipaddr.parse(a).match(ipaddr.parseCIDR(range) as never);
      expect(inCidr(parseIp(a)!, parseCidr(range)!)).toBe(theirs);
      expect(ipAllowed(a, [range])).toBe(theirs);
    }), { numRuns: 3000 });
  });

  it("accepts what ipaddr.js prints, for both families (property)", () => {
    fc.assert(fc.property(fc.oneof(v4, v6), (a) => {
      expect([...parseIp(a)!]).toEqual(ipaddr.parse(a).kind() === "ipv4" ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, ...ipaddr.parse(a).toByteArray()] : ipaddr.parse(a).toByteArray());
    }), { numRuns: 3000 });
  });
});
