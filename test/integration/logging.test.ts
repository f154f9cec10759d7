/** One structured line per request, and an Analytics Engine data point when the binding exists. */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RequestRecord } from "../../src/log-record.ts";
import { script, send, uniquePath } from "../helpers.ts";

afterEach(() => vi.restoreAllMocks());

function captureRecords() {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => { lines.push(args.map(String).join(" ")); });
  return () => lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as RequestRecord).filter((r) => r.event === "request");
}

describe("request log", () => {
  it("writes one JSON line per request with cache status, rule, key hash, timings and bytes", async () => {
    const records = captureRecords();
    const p = uniquePath();
    await script(p, { headers: { "cache-control": "max-age=60" }, body: "twelve bytes" });
    await send(`${p}?secret=1`, {}, { LOG_REQUESTS: "true" });
    await send(`${p}?secret=1`, {}, { LOG_REQUESTS: "true" });
    const [miss, hit] = records().filter((r) => r.path === p);
    expect(miss).toMatchObject({ method: "GET", status: 200, cache: "MISS", rule: "html", bytes: 12 });
    expect(hit).toMatchObject({ cache: "HIT", bytes: 12, originMs: 0 });
    expect(miss?.key).toMatch(/^[0-9a-f]{12}$/);
    expect(miss?.key).toBe(hit?.key);
    // The query never reaches the log.
    expect(JSON.stringify(records())).not.toContain("secret");
  });

  it("is off with LOG_REQUESTS=false", async () => {
    const records = captureRecords();
    await send(uniquePath(), {}, { LOG_REQUESTS: "false" });
    expect(records()).toHaveLength(0);
  });

  it("writes an Analytics Engine data point when ANALYTICS is bound", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const dataset = { writeDataPoint: (p: AnalyticsEngineDataPoint) => { points.push(p); } } as AnalyticsEngineDataset;
    const p = uniquePath();
    await send(p, {}, { LOG_REQUESTS: "false", ANALYTICS: dataset });
    expect(points).toHaveLength(1);
    expect(points[0]?.indexes).toEqual(["html"]);
    expect(points[0]?.blobs?.[0]).toBe("MISS");
    expect(points[0]?.doubles?.[0]).toBe(200);
  });
});
