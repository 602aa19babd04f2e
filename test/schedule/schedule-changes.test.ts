import { describe, expect, test } from "bun:test";
import { decideChange, WRITE_PLANT_AHEAD_MS, type ReadSchedule } from "../../src/schedule/schedule-changes.ts";
import { resolveSchedule } from "../../src/schedule/schedule-input.ts";
import { decodeSchedule, encodeSchedule } from "../../src/schedule/schedule-record.ts";
import { occurrenceId } from "../../src/task/occurrence-id.ts";

const task = { name: "sync", args: { tenant: 7 } };
const minutely = resolveSchedule({ every: "1m", task });
const T0 = Date.parse("2027-01-01T00:00:30Z");
const minute = (n: number) => Date.parse("2027-01-01T00:00:00Z") + n * 60_000;

function read(write: NonNullable<ReturnType<typeof decideChange>>, last: ReadSchedule["last"]): ReadSchedule {
  // Through the stored form, as the planter and the API read it back.
  return { state: decodeSchedule(write.name, encodeSchedule(write.state!)), last };
}

describe("decideChange", () => {
  test("creating a schedule plants its first occurrence in the same write", () => {
    const write = decideChange("s", { kind: "put", definition: minutely }, null, T0)!;
    expect(write.expectedVersion).toBe(0);
    expect(write.plant).toEqual([minute(1)]);
    expect(write.wakeAtMs).toBe(minute(1));
    expect(write.state!.lastAtMs).toBe(minute(1));
    expect(encodeSchedule(write.state!).split("\n")[0]).toBe(`1\t${occurrenceId("s", minute(1))}`);
  });

  test("a short period is planted ahead until the planter's next regular look", () => {
    const write = decideChange("fast", { kind: "put", definition: resolveSchedule({ every: "200ms", task }) }, null, 1_000_050)!;
    expect(write.plant[0]).toBe(1_000_200);
    expect(write.wakeAtMs! >= 1_000_050 + WRITE_PLANT_AHEAD_MS).toBe(true);
    expect(write.plant).toEqual(write.plant.map((_, i) => 1_000_200 + i * 200));
  });

  test("the planter plants the next when the current fires, and moves the cursor", () => {
    const created = decideChange("s", { kind: "put", definition: minutely }, null, T0)!;
    const pass = decideChange("s", { kind: "plant" }, read(created, "running"), minute(1))!;
    expect(pass.expectedVersion).toBe(1);
    expect(pass.plant).toEqual([minute(2)]);
    expect(pass.state!.prevAtMs).toBe(minute(1));
    expect(pass.state!.lastAtMs).toBe(minute(2));
    expect(pass.wakeAtMs).toBe(minute(2));
  });

  test("pause takes back what was planted and stops; resume applies the misfire policy", () => {
    const created = decideChange("s", { kind: "put", definition: minutely }, null, T0)!;
    const paused = decideChange("s", { kind: "pause" }, read(created, "pending"), T0 + 1_000)!;
    expect(paused.withdraw).toEqual([minute(1)]);
    expect(paused.wakeAtMs).toBeNull();
    expect(paused.state!.definition.paused).toBe(true);
    // Resumed after minutes 1..5 passed: once runs the first missed, then goes on.
    const resumed = decideChange("s", { kind: "resume" }, read(paused, "ended"), minute(5) + 30_000)!;
    expect(resumed.plant).toEqual([minute(1), minute(6)]);
    expect(resumed.state!.definition.paused).toBe(false);
    const skip = resolveSchedule({ every: "1m", task, misfire: "skip" });
    const createdSkip = decideChange("k", { kind: "put", definition: skip }, null, T0)!;
    const pausedSkip = decideChange("k", { kind: "pause" }, read(createdSkip, "pending"), T0 + 1_000)!;
    expect(decideChange("k", { kind: "resume" }, read(pausedSkip, "ended"), minute(5) + 30_000)!.plant).toEqual([minute(6)]);
  });

  test("replacing takes effect from the next occurrence: later ones are taken back, the new ones planted", () => {
    const created = decideChange("s", { kind: "put", definition: minutely }, null, T0)!;
    const hourly = resolveSchedule({ cron: "0 * * * *", task: { name: "other" } });
    const replaced = decideChange("s", { kind: "put", definition: hourly }, read(created, "pending"), T0 + 1_000)!;
    expect(replaced.expectedVersion).toBe(1);
    expect(replaced.withdraw).toEqual([minute(1)]);
    expect(replaced.plant).toEqual([minute(60)]);
    expect(replaced.state!.definition.task.name).toBe("other");
  });

  test("delete takes back what has not started and removes the schedule", () => {
    const created = decideChange("s", { kind: "put", definition: minutely }, null, T0)!;
    const deleted = decideChange("s", { kind: "delete" }, read(created, "pending"), T0 + 1_000)!;
    expect(deleted).toMatchObject({ state: null, wakeAtMs: null, withdraw: [minute(1)], plant: [] });
    expect(decideChange("s", { kind: "delete" }, null, T0)).toBeNull();
  });

  test("a paused schedule is created without an occurrence, and the planter leaves it alone", () => {
    const created = decideChange("p", { kind: "put", definition: { ...minutely, paused: true } }, null, T0)!;
    expect(created.plant).toEqual([]);
    expect(created.wakeAtMs).toBeNull();
    expect(decideChange("p", { kind: "plant" }, read(created, "none"), minute(3))).toBeNull();
  });

  test("the stored form round-trips", () => {
    const definition = resolveSchedule({ cron: "30 2 * * *", tz: "Europe/Berlin", task, startAt: 1_000, endAt: 9_000_000_000_000, misfire: "all", overlap: "skip" });
    const created = decideChange("rt", { kind: "put", definition }, null, T0)!;
    expect(decodeSchedule("rt", encodeSchedule(created.state!))).toEqual(created.state!);
  });
});
