import { describe, expect, it } from "vitest";
import { originLog, send, uniquePath } from "../helpers.ts";

describe("smoke", () => {
  it("MISS then HIT", async () => {
    const p = uniquePath();
    const a = await send(`${p}/page`);
    expect(a.header("x-cache")).toBe("MISS");
    const b = await send(`${p}/page`);
    expect(b.header("x-cache")).toBe("HIT");
    expect(b.body).toBe(a.body);
    expect(await originLog(p)).toHaveLength(1);
  });
});
