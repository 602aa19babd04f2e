// The schedule-planting duty against an in-memory store (no Redis): what it plants and writes for
// the schedules whose wake time came, and when it asks to step next.
import { describe, expect, test } from "bun:test";
import { PASS_AHEAD_MS, POLL_MS, SchedulePlanting, type PlanterStore } from "../../src/shard/schedule-planting.ts";
import type { DueSchedule } from "../../src/store/schedules.ts";
import type { ScheduleWrite } from "../../src/schedule/schedule-changes.ts";
import { decideChange } from "../../src/schedule/schedule-changes.ts";
import { resolveSchedule } from "../../src/schedule/schedule-input.ts";
import { encodeSchedule } from "../../src/schedule/schedule-record.ts";
import { occurrenceId } from "../../src/task/occurrence-id.ts";
import type { PlantedOccurrence } from "../../src/schedule/occurrences.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { silentLogger } from "../../src/core/log.ts";

class MemoryPlanterStore implements PlanterStore {
  due: DueSchedule[] = [];
  nextWakeMs: number | null = null;
  writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[]; token: string | null }[] = [];
  answer: "ok" | "conflict" | "lease" = "ok";
  async dueSchedules(_shard: number, token: string, upToMs: number) {
    if (this.answer === "lease") return "lease" as const;
    this.lastUpTo = upToMs;
    this.lastToken = token;
    return { schedules: this.due, nextWakeMs: this.nextWakeMs };
  }
  lastUpTo = 0;
  lastToken = "";
  async plantSchedules(_shard: number, token: string, writes: { write: ScheduleWrite; occurrences: PlantedOccurrence[] }[]) {
    if (this.answer === "lease") return "lease" as const;
    for (const { write, occurrences } of writes) this.writes.push({ write, occurrences, token });
    return writes.map(() => this.answer as "ok" | "conflict");
  }
}

const T0 = Date.parse("2027-01-01T00:00:30Z");
const minute = (n: number) => Date.parse("2027-01-01T00:00:00Z") + n * 60_000;

function dueSchedule(name: string): DueSchedule {
  const created = decideChange(name, { kind: "put", definition: resolveSchedule({ every: "1m", task: { name: "t" } }) }, null, T0)!;
  return { name, stored: encodeSchedule(created.state!), last: "running" };
}

function duty(store: MemoryPlanterStore) {
  return new SchedulePlanting({ shard: 0, leaseToken: "n1:7", schedules: store, shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, log: silentLogger() });
}

describe("SchedulePlanting", () => {
  test("plants the next occurrence of each due schedule, fenced by the lease, and moves its wake", async () => {
    const store = new MemoryPlanterStore();
    store.due = [dueSchedule("a"), dueSchedule("b")];
    const planting = duty(store);
    const reply = await planting.perform(planting.plan(minute(1)));
    expect(store.lastUpTo).toBe(minute(1) + PASS_AHEAD_MS);
    expect(store.lastToken).toBe("n1:7");
    expect(reply).toMatchObject({ planted: 2, looked: 2, conflicts: 0 });
    for (const { write, occurrences, token } of store.writes) {
      expect(token).toBe("n1:7");
      expect(write.wakeAtMs).toBe(minute(2));
      expect(occurrences.map((o) => o.id)).toEqual([occurrenceId(write.name, minute(2))]);
    }
  });

  test("steps again at the next wake time, at most POLL_MS later, at once after a conflict", async () => {
    const store = new MemoryPlanterStore();
    const planting = duty(store);
    const now = minute(1);
    expect(planting.settle({ nowMs: now }, { planted: 0, looked: 0, conflicts: 0, nextWakeMs: null }, now)).toBe(POLL_MS);
    expect(planting.settle({ nowMs: now }, { planted: 0, looked: 0, conflicts: 0, nextWakeMs: now + 100 }, now)).toBe(100 - PASS_AHEAD_MS);
    expect(planting.settle({ nowMs: now }, { planted: 0, looked: 0, conflicts: 0, nextWakeMs: now + 60_000 }, now)).toBe(POLL_MS);
    expect(planting.settle({ nowMs: now }, { planted: 1, looked: 1, conflicts: 1, nextWakeMs: now + 60_000 }, now)).toBe(0);
    expect(planting.planted).toBe(1);
  });

  test("idle polls fall on multiples of POLL_MS, so every shard's poll of a node leaves in one write", () => {
    const planting = duty(new MemoryPlanterStore());
    const idle = { planted: 0, looked: 0, conflicts: 0, nextWakeMs: null };
    // Shards that stepped at different moments poll next at the same instant.
    for (const offset of [1, 37, 130, POLL_MS - 1]) {
      const at = minute(1) + offset;
      expect(at + planting.settle({ nowMs: at }, idle, at)).toBe(minute(1) + POLL_MS);
    }
    // A wake time before the next grid point still wins.
    const at = minute(1) + 10;
    expect(planting.settle({ nowMs: at }, { ...idle, nextWakeMs: at + 100 }, at)).toBe(100 - PASS_AHEAD_MS);
  });

  test("a refused lease is answered as such (the actor stops the shard)", async () => {
    const store = new MemoryPlanterStore();
    store.answer = "lease";
    const planting = duty(store);
    expect(await planting.perform(planting.plan(minute(1)))).toBe("lease");
  });
});
