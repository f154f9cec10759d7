import { describe, expect, it } from "vitest";
import { derivedTags, hostTag, MAX_TAG_BYTES, parseTagHeaders, pathPrefixes, prefixTag, tagProblem, urlTag } from "./tags.ts";

const NAMES = ["cache-tag", "surrogate-key", "x-cache-tag"];
const parse = (h: Record<string, string>, budget = MAX_TAG_BYTES) => parseTagHeaders(new Headers(h), NAMES, budget);

describe("parseTagHeaders", () => {
  it.each([
    [{}, []],
    [{ "cache-tag": "a,b , c" }, ["a", "b", "c"]],
    [{ "cache-tag": "a b\tc" }, ["a", "b", "c"]],
    [{ "cache-tag": "Post_1,POST_1,post_1" }, ["post_1"]],
    [{ "surrogate-key": "x y", "cache-tag": "a" }, ["a", "x", "y"]],
    [{ "x-cache-tag": "z", "cache-tag": "a,z" }, ["a", "z"]],
    [{ "cache-tag": ",,, ," }, []],
  ])("%j -> %j", (h, tags) => {
    expect(parse(h).tags).toEqual(tags);
  });

  it("drops invalid tags and reports why", () => {
    const r = parse({ "cache-tag": `ok,${"x".repeat(1025)},caf\u00e9,\u0001bad` });
    expect(r.tags).toEqual(["ok"]);
    expect(r.dropped.map((d) => d.reason)).toEqual([
      "longer than 1024 characters", "not printable ASCII without spaces", "not printable ASCII without spaces",
    ]);
  });

  it("keeps within the byte budget", () => {
    const many = Array.from({ length: 50 }, (_, i) => `tag_${i}_${"y".repeat(90)}`).join(",");
    const r = parse({ "cache-tag": many }, 1000);
    expect(r.tags.join(",").length).toBeLessThanOrEqual(1000);
    expect(r.dropped.length).toBe(50 - r.tags.length);
  });
});

describe("tagProblem", () => {
  it.each([
    ["post_1", null],
    ["a:b/c?d=e", null],
    ["", "empty"],
    ["a b", "not printable ASCII without spaces"],
    ["x".repeat(1024), null],
    ["x".repeat(1025), "longer than 1024 characters"],
  ])("%s -> %s", (tag, problem) => {
    expect(tagProblem(tag)).toBe(problem);
  });
});

describe("derived tags", () => {
  it.each([
    ["/", []],
    ["/a", ["/a"]],
    ["/a/", ["/a"]],
    ["/a/b/c/", ["/a", "/a/b", "/a/b/c"]],
    ["/1/2/3/4/5/6/7/8/9/10", ["/1", "/1/2", "/1/2/3", "/1/2/3/4", "/1/2/3/4/5", "/1/2/3/4/5/6", "/1/2/3/4/5/6/7", "/1/2/3/4/5/6/7/8"]],
  ])("pathPrefixes(%s)", (path, prefixes) => {
    expect(pathPrefixes(path)).toEqual(prefixes);
  });

  it("derives everything, host, prefixes and URL tags that are valid tags", async () => {
    const tags = await derivedTags("www.example.com", "/blog/x/", "https://www.example.com/blog/x/?a=1");
    expect(tags[0]).toBe("*");
    expect(tags[1]).toBe(hostTag("WWW.example.com"));
    expect(tags).toContain(await prefixTag("www.example.com", "/blog"));
    expect(tags).toContain(await prefixTag("www.example.com", "/blog/x"));
    expect(tags).toContain(await urlTag("https://www.example.com/blog/x/?a=1"));
    for (const t of tags) expect(tagProblem(t)).toBeNull();
  });

  it("distinct identities give distinct tags", async () => {
    expect(await urlTag("https://e.com/a")).not.toBe(await urlTag("https://e.com/a?x=1"));
    expect(await prefixTag("e.com", "/blog")).not.toBe(await prefixTag("f.com", "/blog"));
  });
});
