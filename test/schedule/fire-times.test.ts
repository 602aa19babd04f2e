/**
 * DST semantics of docs/schedules.md, on the pure fire-time arithmetic: every instant is passed in
 * (no clock), in Europe/Berlin (spring forward 2027-03-28 02:00 → 03:00, fall back 2027-10-31
 * 03:00 → 02:00) and America/New_York (2027-03-14 02:00 → 03:00, 2027-11-07 02:00 → 01:00).
 * The same cases run through the planting loop in plan.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { FireTimes, isoInZone, isKnownZone } from "../../src/schedule/fire-times.ts";

function nextLocal(cron: string, tz: string, fromIso: string, count: number): string[] {
  const fire = new FireTimes({ kind: "cron", cron, tz }, { startAtMs: null, endAtMs: null });
  return fire.nextN(count, Date.parse(fromIso)).map((atMs) => isoInZone(atMs, tz));
}

describe("DST: daily 02:30 (a fixed-time pattern)", () => {
  test("Berlin spring forward: 02:30 does not exist, it fires once at 03:00", () => {
    expect(nextLocal("30 2 * * *", "Europe/Berlin", "2027-03-26T12:00:00Z", 3)).toEqual([
      "2027-03-27T02:30:00+01:00",
      "2027-03-28T03:00:00+02:00",
      "2027-03-29T02:30:00+02:00",
    ]);
  });
  test("Berlin fall back: 02:30 happens twice, it fires once, at the first", () => {
    expect(nextLocal("30 2 * * *", "Europe/Berlin", "2027-10-29T12:00:00Z", 3)).toEqual([
      "2027-10-30T02:30:00+02:00",
      "2027-10-31T02:30:00+02:00",
      "2027-11-01T02:30:00+01:00",
    ]);
  });
  test("New York spring forward: fires once at 03:00", () => {
    expect(nextLocal("30 2 * * *", "America/New_York", "2027-03-12T12:00:00Z", 3)).toEqual([
      "2027-03-13T02:30:00-05:00",
      "2027-03-14T03:00:00-04:00",
      "2027-03-15T02:30:00-04:00",
    ]);
  });
  test("New York fall back: 02:30 is after the repeated hour (01:00-02:00), so it fires once as usual", () => {
    expect(nextLocal("30 2 * * *", "America/New_York", "2027-11-05T12:00:00Z", 3)).toEqual([
      "2027-11-06T02:30:00-04:00",
      "2027-11-07T02:30:00-05:00",
      "2027-11-08T02:30:00-05:00",
    ]);
  });
  test("New York fall back: 01:30 happens twice, it fires once, at the first", () => {
    expect(nextLocal("30 1 * * *", "America/New_York", "2027-11-05T12:00:00Z", 3)).toEqual([
      "2027-11-06T01:30:00-04:00",
      "2027-11-07T01:30:00-04:00",
      "2027-11-08T01:30:00-05:00",
    ]);
  });
});

describe("DST: hourly (an interval pattern)", () => {
  test("Berlin spring forward: the missing 02:00 is skipped", () => {
    expect(nextLocal("0 * * * *", "Europe/Berlin", "2027-03-27T23:30:00Z", 3)).toEqual([
      "2027-03-28T01:00:00+01:00",
      "2027-03-28T03:00:00+02:00",
      "2027-03-28T04:00:00+02:00",
    ]);
  });
  test("Berlin fall back: the repeated 02:00 fires twice", () => {
    expect(nextLocal("0 * * * *", "Europe/Berlin", "2027-10-30T23:30:00Z", 3)).toEqual([
      "2027-10-31T02:00:00+02:00",
      "2027-10-31T02:00:00+01:00",
      "2027-10-31T03:00:00+01:00",
    ]);
  });
  test("New York spring forward: the missing 02:00 is skipped", () => {
    expect(nextLocal("0 * * * *", "America/New_York", "2027-03-14T05:30:00Z", 3)).toEqual([
      "2027-03-14T01:00:00-05:00",
      "2027-03-14T03:00:00-04:00",
      "2027-03-14T04:00:00-04:00",
    ]);
  });
  test("New York fall back: the repeated 01:00 fires twice", () => {
    expect(nextLocal("0 * * * *", "America/New_York", "2027-11-07T04:30:00Z", 3)).toEqual([
      "2027-11-07T01:00:00-04:00",
      "2027-11-07T01:00:00-05:00",
      "2027-11-07T02:00:00-05:00",
    ]);
  });
});

describe("FireTimes", () => {
  test("every: anchored at the epoch without startAt, at startAt with one; endAt is exclusive", () => {
    const epochAnchored = new FireTimes({ kind: "every", everyMs: 15 * 60_000 }, { startAtMs: null, endAtMs: null });
    expect(epochAnchored.next(Date.parse("2027-01-01T10:07:00Z"))).toBe(Date.parse("2027-01-01T10:15:00Z"));
    expect(epochAnchored.next(Date.parse("2027-01-01T10:15:00Z"))).toBe(Date.parse("2027-01-01T10:30:00Z"));
    const bounded = new FireTimes({ kind: "every", everyMs: 200 }, { startAtMs: 1_050, endAtMs: 1_650 });
    expect(bounded.nextN(10, 0)).toEqual([1_050, 1_250, 1_450]);
  });

  test("every ignores wall time across DST (an hour is 3,600,000 ms)", () => {
    const hourly = new FireTimes({ kind: "every", everyMs: 3_600_000 }, { startAtMs: null, endAtMs: null });
    const times = hourly.nextN(3, Date.parse("2027-10-30T23:30:00Z"));
    expect(times.map((atMs) => isoInZone(atMs, "Europe/Berlin"))).toEqual([
      "2027-10-31T02:00:00+02:00",
      "2027-10-31T02:00:00+01:00",
      "2027-10-31T03:00:00+01:00",
    ]);
  });

  test("cron: startAt inclusive, endAt exclusive, 6 fields have seconds", () => {
    const start = Date.parse("2027-01-01T00:00:05Z");
    const fire = new FireTimes({ kind: "cron", cron: "*/5 * * * * *", tz: "UTC" }, { startAtMs: start, endAtMs: start + 15_000 });
    expect(fire.nextN(10, 0)).toEqual([start, start + 5_000, start + 10_000]);
    expect(fire.next(start)).toBe(start + 5_000);
  });

  test("isoInZone and zone names", () => {
    expect(isoInZone(Date.parse("2027-01-01T00:00:00.250Z"), "UTC")).toBe("2027-01-01T00:00:00.250Z");
    expect(isoInZone(0, "Asia/Kolkata")).toBe("1970-01-01T05:30:00+05:30");
    expect(isKnownZone("Europe/Berlin")).toBe(true);
    expect(isKnownZone("Mars/Olympus_Mons")).toBe(false);
  });
});
