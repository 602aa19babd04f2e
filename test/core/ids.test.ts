import { describe, test, expect, spyOn } from "bun:test";
import { newTaskId, taskIdTimeMs } from "../../src/core/ids.ts";

describe("newTaskId", () => {
  test("is 26 Crockford base32 characters", () => {
    const id = newTaskId();
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  test("100k ids are unique and sort in generation order", () => {
    const ids: string[] = [];
    for (let i = 0; i < 100_000; i++) ids.push(newTaskId());
    expect(new Set(ids).size).toBe(ids.length);
    let outOfOrder = 0;
    for (let i = 1; i < ids.length; i++) if ((ids[i - 1] as string) >= (ids[i] as string)) outOfOrder++;
    expect(outOfOrder).toBe(0);
    expect([...ids].sort()).toEqual(ids);
  });

  test("embeds its creation time in the first 10 characters", () => {
    const before = Date.now();
    const id = newTaskId();
    const after = Date.now();
    const ms = taskIdTimeMs(id) as number;
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
    expect(taskIdTimeMs("not-an-id")).toBeNull();
    expect(taskIdTimeMs("I".repeat(26))).toBeNull();
  });

  test("keeps increasing when the source repeats or goes back in time", () => {
    const first = newTaskId();
    // A UUIDv7 from 1970: what a wall clock stepped far back would produce.
    // The double cast: one stub cannot satisfy both overloads (string and "buffer") by type.
    const allZero = (() => Buffer.alloc(16)) as unknown as typeof Bun.randomUUIDv7;
    const spy = spyOn(Bun, "randomUUIDv7").mockImplementation(allZero);
    try {
      const second = newTaskId();
      const third = newTaskId();
      expect(first < second && second < third).toBe(true);
      expect(taskIdTimeMs(third)).toBe(taskIdTimeMs(first));
    } finally {
      spy.mockRestore();
    }
  });
});
