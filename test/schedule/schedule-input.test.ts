import { describe, expect, test } from "bun:test";
import { checkScheduleName, EVERY_FLOOR_MS, resolveSchedule } from "../../src/schedule/schedule-input.ts";
import { TickwheelError } from "../../src/task/errors.ts";

function fieldOf(fn: () => unknown): { field: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof TickwheelError) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error("expected a TickwheelError");
}

const task = { name: "report.build" };

describe("resolveSchedule", () => {
  test("defaults: UTC, misfire once, overlap allow, not paused", () => {
    const definition = resolveSchedule({ cron: "30 2 * * *", task });
    expect(definition).toEqual({
      rule: { kind: "cron", cron: "30 2 * * *", tz: "UTC" },
      tz: "UTC",
      task,
      startAtMs: null,
      endAtMs: null,
      misfire: "once",
      overlap: "allow",
      paused: false,
    });
  });

  test("every takes a duration or ms; cron takes 6 fields with seconds", () => {
    expect(resolveSchedule({ every: "15m", task }).rule).toEqual({ kind: "every", everyMs: 900_000 });
    expect(resolveSchedule({ every: 250, task }).rule).toEqual({ kind: "every", everyMs: 250 });
    expect(resolveSchedule({ cron: "*/10 * * * * *", tz: "Europe/Berlin", task, misfire: "all", overlap: "skip" }).rule).toEqual({
      kind: "cron",
      cron: "*/10 * * * * *",
      tz: "Europe/Berlin",
    });
  });

  test("an invalid cron field is named, with croner's reason", () => {
    const error = fieldOf(() => resolveSchedule({ cron: "61 * * * *", task }));
    expect(error.field).toBe("cron");
    expect(error.message).toContain("minute");
    expect(fieldOf(() => resolveSchedule({ cron: "* * * *", task })).field).toBe("cron");
    expect(fieldOf(() => resolveSchedule({ cron: "0 0 0 * * * 2027", task })).field).toBe("cron");
  });

  test("an unknown zone is named", () => {
    const error = fieldOf(() => resolveSchedule({ cron: "0 * * * *", tz: "Europe/Atlantis", task }));
    expect(error.field).toBe("tz");
    expect(error.message).toContain("Europe/Atlantis");
  });

  test("every below the floor, or not a duration, is named", () => {
    const error = fieldOf(() => resolveSchedule({ every: "50ms", task }));
    expect(error.field).toBe("every");
    expect(error.message).toContain(String(EVERY_FLOOR_MS));
    expect(fieldOf(() => resolveSchedule({ every: "soon", task })).field).toBe("every");
    expect(resolveSchedule({ every: `${EVERY_FLOOR_MS}ms`, task }).rule).toEqual({ kind: "every", everyMs: EVERY_FLOOR_MS });
  });

  test("exactly one of cron and every", () => {
    expect(fieldOf(() => resolveSchedule({ task })).field).toBe("cron");
    expect(fieldOf(() => resolveSchedule({ cron: "* * * * *", every: "1m", task })).field).toBe("every");
  });

  test("task template fields, policies and bounds are checked by name", () => {
    expect(fieldOf(() => resolveSchedule({ every: "1m", task: { name: "" } })).field).toBe("task.name");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task: { name: "x", priority: 12 } })).field).toBe("task.priority");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task: { name: "x", maxAttempts: 0 } })).field).toBe("task.maxAttempts");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task: { name: "x", id: "y" } })).field).toBe("task.id");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task: { name: "x", target: { type: "ftp" } } })).field).toBe("task.target.type");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task, misfire: "sometimes" })).field).toBe("misfire");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task, overlap: "maybe" })).field).toBe("overlap");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task, startAt: "tomorrow" })).field).toBe("startAt");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task, startAt: "2027-01-02T00:00:00Z", endAt: "2027-01-01T00:00:00Z" })).field).toBe("endAt");
    expect(fieldOf(() => resolveSchedule({ every: "1m", task, colour: "blue" })).field).toBe("colour");
    expect(fieldOf(() => resolveSchedule({ every: "1m" })).field).toBe("task");
  });

  test("names: URL- and id-safe characters only", () => {
    expect(checkScheduleName("tenant-42.sync:hourly_v2")).toBe("tenant-42.sync:hourly_v2");
    for (const bad of ["", "-lead", "has space", "{tag}", "a/b", "x".repeat(129), "naïve"]) {
      expect(fieldOf(() => checkScheduleName(bad)).field).toBe("name");
    }
  });
});
