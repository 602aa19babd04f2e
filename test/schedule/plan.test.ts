/**
 * The planting rule on an injected clock: a small loop plays the planter (it wakes at each
 * plan's wakeAtMs, plants what the plan says, and knows when each planted occurrence "ends"),
 * so DST, misfire and overlap are checked over days of schedule time without waiting.
 */
import { describe, expect, test } from "bun:test";
import { FireTimes, isoInZone } from "../../src/schedule/fire-times.ts";
import { MISFIRE_GRACE_MS, PLANT_LEAD_MS, planSchedule, type LastOccurrenceState } from "../../src/schedule/plan.ts";
import type { MisfirePolicy, OverlapPolicy } from "../../src/schedule/schedule-input.ts";
import { MISFIRE_ALL_BOUND } from "../../src/schedule/schedule-input.ts";

interface Simulation {
  fire: FireTimes;
  misfire?: MisfirePolicy;
  overlap?: OverlapPolicy;
  /** The schedule is written at this instant: the cursor starts here. */
  fromMs: number;
  untilMs: number;
  /** How long each occurrence runs once it starts (it starts at max(its time, the node's up time)). */
  runMs?: number;
  /** No node runs in [downFromMs, downUntilMs): neither the planter nor the wheel. */
  downFromMs?: number;
  downUntilMs?: number;
}

interface Run {
  atMs: number;
  startMs: number;
  endMs: number;
}

/** Plays planter and wheel on a fake clock; returns the occurrences that ran, in planting order. */
function simulate(sim: Simulation): { planted: number[]; runs: Run[] } {
  const misfire = sim.misfire ?? "once";
  const overlap = sim.overlap ?? "allow";
  const runMs = sim.runMs ?? 1;
  const down = (at: number) => sim.downFromMs !== undefined && at >= sim.downFromMs && at < sim.downUntilMs!;
  const upAt = (at: number) => (down(at) ? sim.downUntilMs! : at);
  const planted: number[] = [];
  const runs: Run[] = [];
  let cursorMs = sim.fromMs;
  let wakeAtMs: number | null = sim.fromMs;
  let last: { atMs: number; startMs: number; endMs: number } | null = null;
  for (let steps = 0; wakeAtMs !== null && steps < 100_000; steps++) {
    const nowMs: number = upAt(wakeAtMs);
    if (nowMs >= sim.untilMs) break;
    let state: LastOccurrenceState = "ended";
    if (last) state = nowMs < last.startMs ? "pending" : nowMs < last.endMs ? "running" : "ended";
    const plan = planSchedule({ fire: sim.fire, misfire, overlap, cursorMs, last: last && { atMs: last.atMs, state }, nowMs });
    for (const atMs of plan.plant) {
      planted.push(atMs);
      const startMs = upAt(Math.max(atMs, nowMs));
      // Misfire skip: occurrences carry expiresAt = time + grace, so a late one does not run.
      const expired = misfire === "skip" && startMs > atMs + MISFIRE_GRACE_MS;
      const run = { atMs, startMs, endMs: startMs + runMs };
      if (!expired) runs.push(run);
      last = expired ? { atMs, startMs, endMs: startMs } : run;
    }
    expect(plan.wakeAtMs === null || plan.wakeAtMs >= nowMs).toBe(true);
    cursorMs = plan.cursorMs;
    wakeAtMs = plan.wakeAtMs;
  }
  // Planted ahead but not started by the end of the simulated span: not a run.
  return { planted, runs: runs.filter((run) => run.startMs < sim.untilMs) };
}

const cron = (pattern: string, tz: string) => new FireTimes({ kind: "cron", cron: pattern, tz }, { startAtMs: null, endAtMs: null });
const every = (everyMs: number) => new FireTimes({ kind: "every", everyMs }, { startAtMs: null, endAtMs: null });
const local = (runs: Run[], tz: string) => runs.map((run) => isoInZone(run.atMs, tz));

describe("DST through the planting loop (injected clock)", () => {
  const cases: { name: string; pattern: string; tz: string; from: string; until: string; expected: string[] }[] = [
    {
      name: "Berlin daily 02:30 across spring forward and fall back",
      pattern: "30 2 * * *",
      tz: "Europe/Berlin",
      from: "2027-03-27T00:00:00Z",
      until: "2027-03-29T12:00:00Z",
      expected: ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"],
    },
    {
      name: "Berlin daily 02:30 at fall back",
      pattern: "30 2 * * *",
      tz: "Europe/Berlin",
      from: "2027-10-30T00:00:00Z",
      until: "2027-11-01T12:00:00Z",
      expected: ["2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"],
    },
    {
      name: "New York daily 02:30 at spring forward",
      pattern: "30 2 * * *",
      tz: "America/New_York",
      from: "2027-03-13T00:00:00Z",
      until: "2027-03-15T12:00:00Z",
      expected: ["2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"],
    },
    {
      name: "New York daily 02:30 at fall back",
      pattern: "30 2 * * *",
      tz: "America/New_York",
      from: "2027-11-06T00:00:00Z",
      until: "2027-11-08T12:00:00Z",
      expected: ["2027-11-06T02:30:00-04:00", "2027-11-07T02:30:00-05:00", "2027-11-08T02:30:00-05:00"],
    },
    {
      name: "Berlin hourly at spring forward (02:00 is skipped)",
      pattern: "0 * * * *",
      tz: "Europe/Berlin",
      from: "2027-03-27T23:30:00Z",
      until: "2027-03-28T02:30:00Z",
      expected: ["2027-03-28T01:00:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T04:00:00+02:00"],
    },
    {
      name: "Berlin hourly at fall back (02:00 twice)",
      pattern: "0 * * * *",
      tz: "Europe/Berlin",
      from: "2027-10-30T23:30:00Z",
      until: "2027-10-31T02:30:00Z",
      expected: ["2027-10-31T02:00:00+02:00", "2027-10-31T02:00:00+01:00", "2027-10-31T03:00:00+01:00"],
    },
    {
      name: "New York hourly at spring forward (02:00 is skipped)",
      pattern: "0 * * * *",
      tz: "America/New_York",
      from: "2027-03-14T05:30:00Z",
      until: "2027-03-14T08:30:00Z",
      expected: ["2027-03-14T01:00:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-14T04:00:00-04:00"],
    },
    {
      name: "New York hourly at fall back (01:00 twice)",
      pattern: "0 * * * *",
      tz: "America/New_York",
      from: "2027-11-07T04:30:00Z",
      until: "2027-11-07T07:30:00Z",
      expected: ["2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00", "2027-11-07T02:00:00-05:00"],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { runs } = simulate({ fire: cron(c.pattern, c.tz), fromMs: Date.parse(c.from), untilMs: Date.parse(c.until) });
      expect(local(runs, c.tz)).toEqual(c.expected);
      // Each ran once, at its time, never early.
      for (const run of runs) expect(run.startMs).toBe(run.atMs);
    });
  }
});

describe("misfire: no node for 5 occurrences, then up", () => {
  // every 10 s; written at 0; down from 25 s to 75 s: occurrences 30, 40, 50, 60, 70 s are missed.
  const base = { fire: every(10_000), fromMs: 0, untilMs: 120_000, downFromMs: 25_000, downUntilMs: 75_000 };
  const missedTimes = [30_000, 40_000, 50_000, 60_000, 70_000];
  const ranMissed = (runs: Run[]) => runs.filter((run) => missedTimes.includes(run.atMs));

  for (const [misfire, count] of [["skip", 0], ["once", 1], ["all", 5]] as const) {
    test(`${misfire}: ${count} of them run, then the schedule goes on as before`, () => {
      const { runs } = simulate({ ...base, misfire });
      expect(ranMissed(runs).length).toBe(count);
      const onTime = runs.filter((run) => !missedTimes.includes(run.atMs)).map((run) => run.atMs);
      expect(onTime).toEqual([10_000, 20_000, 80_000, 90_000, 100_000, 110_000]);
      for (const run of runs) expect(run.startMs).toBeGreaterThanOrEqual(run.atMs);
    });
  }

  test("all replays at most its bound per gap, oldest first", () => {
    const { runs } = simulate({ fire: every(100), fromMs: 0, untilMs: 500_000, downFromMs: 150, downUntilMs: 400_000, misfire: "all" });
    const late = runs.filter((run) => run.startMs > run.atMs + MISFIRE_GRACE_MS);
    expect(late.length).toBe(MISFIRE_ALL_BOUND);
    expect(late[0]!.atMs).toBe(200);
  });

  test("once with no occurrence waiting (the node died after firing, before planting): the first missed runs", () => {
    const fire = every(10_000);
    const plan = planSchedule({ fire, misfire: "once", overlap: "allow", cursorMs: 20_000, last: { atMs: 20_000, state: "ended" }, nowMs: 75_000 });
    expect(plan.plant).toEqual([30_000, 80_000]);
    expect(plan.wakeAtMs).toBe(80_000);
  });
});

describe("overlap", () => {
  test("skip: a 300 ms run on a 100 ms schedule never overlaps itself", () => {
    const { runs } = simulate({ fire: every(100), overlap: "skip", fromMs: 0, untilMs: 10_000, runMs: 300 });
    expect(runs.length).toBeGreaterThan(15);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.startMs).toBeGreaterThanOrEqual(runs[i - 1]!.endMs);
    // And it does not skip more than it must: the next run is the first candidate after the lead.
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.startMs - runs[i - 1]!.endMs).toBeLessThanOrEqual(100 + PLANT_LEAD_MS);
  });

  test("allow: runs start on every occurrence even while earlier ones run", () => {
    const { runs } = simulate({ fire: every(100), overlap: "allow", fromMs: 0, untilMs: 2_000, runMs: 300 });
    expect(runs.map((run) => run.atMs)).toEqual(Array.from({ length: 19 }, (_, i) => (i + 1) * 100));
  });

  test("allow keeps exactly the next occurrence planted ahead", () => {
    const plan = planSchedule({ fire: every(60_000), misfire: "once", overlap: "allow", cursorMs: 60_000, last: { atMs: 60_000, state: "running" }, nowMs: 60_001 });
    expect(plan).toEqual({ plant: [120_000], cursorMs: 120_000, wakeAtMs: 120_000 });
  });
});

test("a schedule past its endAt plants nothing more and is not looked at again", () => {
  const fire = new FireTimes({ kind: "every", everyMs: 1_000 }, { startAtMs: null, endAtMs: 3_000 });
  const plan = planSchedule({ fire, misfire: "once", overlap: "allow", cursorMs: 2_000, last: null, nowMs: 2_000 });
  expect(plan.plant).toEqual([]);
  expect(plan.wakeAtMs).toBeNull();
});
