import { describe, test, expect } from "bun:test";
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

  test("keeps increasing when the clock repeats or goes back in time", () => {
    const first = newTaskId();
    // 1970: what a wall clock stepped far back would give.
    const second = newTaskId(0);
    const third = newTaskId(0);
    expect(first < second && second < third).toBe(true);
    expect(taskIdTimeMs(third)).toBe(taskIdTimeMs(first));
    // Once the clock is past the last id again, ids carry the clock's time.
    const later = taskIdTimeMs(first)! + 60_000;
    const fourth = newTaskId(later);
    expect(fourth > third).toBe(true);
    expect(taskIdTimeMs(fourth)).toBe(later);
  });

  test("ids carry the ms they were made in, and ids of one ms differ after it", () => {
    const ms = Date.now() + 3_600_000;
    const a = newTaskId(ms);
    const b = newTaskId(ms + 1);
    expect(taskIdTimeMs(b)).toBe(ms + 1);
    expect(a.slice(10)).not.toBe(b.slice(10));
    expect(new Set(Array.from({ length: 1000 }, () => newTaskId(ms + 2).slice(10))).size).toBe(1000);
  });
});
