import { describe, test, expect } from "bun:test";
import { DurationError, parseDuration, parseInstant } from "../../src/core/duration.ts";

function errorOf(fn: () => unknown): DurationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DurationError) return error;
    throw error;
  }
  throw new Error("expected a DurationError");
}

describe("parseDuration", () => {
  test("numbers are milliseconds", () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1_500)).toBe(1_500);
    expect(parseDuration(2.6)).toBe(3);
    expect(Object.is(parseDuration(-0), 0)).toBe(true);
  });

  test("strings with units", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("1w")).toBe(604_800_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration(".5s")).toBe(500);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1h 30m 15s")).toBe(5_415_000);
    expect(parseDuration("1m500ms")).toBe(60_500);
    expect(parseDuration(" 90s ")).toBe(90_000);
  });

  test("plain digits are milliseconds", () => {
    expect(parseDuration("500")).toBe(500);
    expect(parseDuration("0")).toBe(0);
  });

  test("rejects anything else with a readable invalid_duration error", () => {
    const bad: unknown[] = [
      -1, Number.NaN, Infinity, -Infinity, "", "   ", "abc", "10 parsecs", "-5s", "+5", "1h-30m", "s", "1.h",
      "5m s", "1e3", "0x10", "1H", "9007199254740993", "999999999999w", null, undefined, {},
    ];
    for (const input of bad) {
      const error = errorOf(() => parseDuration(input as string));
      expect(error.code).toBe("invalid_duration");
      expect(error.name).toBe("DurationError");
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toContain("expected");
      expect(error.message).toContain('"90s"');
    }
    expect(errorOf(() => parseDuration("10 parsecs")).message).toStartWith('invalid duration "10 parsecs"');
  });
});

describe("parseInstant", () => {
  const utc = Date.UTC(2025, 2, 1, 9, 30, 0);

  test("Dates and epoch-ms numbers", () => {
    expect(parseInstant(new Date(utc))).toBe(utc);
    expect(parseInstant(utc)).toBe(utc);
    expect(parseInstant(utc + 0.7)).toBe(utc);
    expect(parseInstant(0)).toBe(0);
  });

  test("ISO-8601 with a zone designator", () => {
    expect(parseInstant("2025-03-01T09:30:00Z")).toBe(utc);
    expect(parseInstant("2025-03-01T09:30Z")).toBe(utc);
    expect(parseInstant("2025-03-01T09:30:00.250Z")).toBe(utc + 250);
    expect(parseInstant("2025-03-01T10:30:00+01:00")).toBe(utc);
    expect(parseInstant("2025-03-01T04:00:00-05:30")).toBe(utc);
    expect(parseInstant("2025-03-01T10:30:00+0100")).toBe(utc);
    expect(parseInstant("2025-03-01 09:30:00Z")).toBe(utc);
  });

  test("a bare date is UTC midnight", () => {
    expect(parseInstant("2025-03-01")).toBe(Date.UTC(2025, 2, 1));
    expect(parseInstant("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
  });

  test("rejects local times, non-ISO text and impossible dates with invalid_time", () => {
    const bad: unknown[] = [
      "2025-03-01T09:30:00", // no zone: would depend on the node's TZ
      "tomorrow",
      "now",
      "",
      "March 1, 2025",
      "Sat, 01 Mar 2025 09:30:00 GMT",
      "2023-02-29",
      "2025-04-31",
      "2025-13-01",
      "2025-03-01T25:00:00Z",
      "2025-03-01T24:00:00Z",
      "2025-03-01T09:60:00Z",
      "2025-03-01T09:30:00+05",
      "1740821400000",
      Number.NaN,
      Infinity,
      9e15,
      new Date(Number.NaN),
      null,
    ];
    for (const input of bad) {
      const error = errorOf(() => parseInstant(input as string));
      expect(error.code).toBe("invalid_time");
      expect(error.message).toContain("ISO-8601");
    }
    expect(errorOf(() => parseInstant("tomorrow")).message).toStartWith('invalid time "tomorrow"');
  });
});
