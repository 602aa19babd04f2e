// When the completer's acks leave: on a 5-ms grid while the node finishes few attempts, on a
// 25-ms grid once it finishes more than 2,000 a second (fewer, larger finish scripts). A fake clock
// and a store that notes each call's time and size; no Redis needed for the timing.
import { expect, test } from "bun:test";
import { Completer } from "../../src/pool/completer.ts";
import type { CompleterStore } from "../../src/pool/ports.ts";
import type { Job } from "../../src/pool/job.ts";
import type { FinishItem } from "../../src/store/outcomes.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FakeWheelClock } from "../core/fake-wheel-clock.ts";

function setup() {
  const clock = new FakeWheelClock();
  const calls: { atMs: number; items: number }[] = [];
  const store = {
    finish: async (_shard: number, _token: string, _now: number, _dead: number, items: FinishItem[]) => {
      calls.push({ atMs: clock.now(), items: items.length });
      return items.map(() => true);
    },
    retry: async () => true,
  } as unknown as CompleterStore;
  const done = new Completer({
    store,
    log: silentLogger(),
    retentionMs: 60_000,
    deadRetentionMs: 60_000,
    maxResultBytes: 1024,
    onRetryScheduled: () => {},
    clock,
    now: () => clock.now(),
  });
  let n = 0;
  const job = (): Job =>
    ({ shard: 0, leaseToken: "t", batch: "b", id: `id-${n++}`, score: String(clock.now()), dueMs: clock.now(), attempt: 1, spec: { name: "x" } }) as unknown as Job;
  /** `perMs` acks every ms for `ms` ms, then 50 ms for the last flush. */
  const ackAtRate = (perMs: number, ms: number) => {
    for (let at = 0; at < ms; at++) {
      for (let i = 0; i < perMs; i++) done.succeeded(job(), undefined);
      clock.advance(1);
    }
    clock.advance(50);
  };
  return { clock, calls, done, job, ackAtRate };
}

test("a few acks leave on the 5-ms grid", () => {
  const { clock, calls, done, job } = setup();
  for (let i = 0; i < 20; i++) {
    done.succeeded(job(), undefined);
    clock.advance(10);
  }
  expect(calls.length).toBe(20);
  for (const call of calls) expect(call.atMs % 5).toBe(0);
  // Each went out within 3-8 ms of its ack: at least FLUSH_DELAY_MS, then the next grid step.
  const gaps = calls.map((call, i) => call.atMs - (calls[0]!.atMs - (calls[0]!.atMs % 10) + 10 * i));
  expect(Math.max(...gaps)).toBeLessThanOrEqual(8);
});

test("above 2,000 acks a second they wait for a 25-ms grid: five times fewer calls", () => {
  const { clock, calls, done, job, ackAtRate } = setup();
  // 4 acks a ms for 1 s.
  ackAtRate(4, 1000);
  expect(calls.reduce((sum, call) => sum + call.items, 0)).toBe(4000);
  // The first 100 ms are the rate sample (5-ms grid: 20 calls); the rest go every 25 ms (~36).
  const late = calls.filter((call) => call.atMs % 25 === 0).length;
  expect(calls.length).toBeLessThan(70);
  expect(late).toBeGreaterThanOrEqual(36);
  const busyCalls = calls.slice(-30);
  for (const call of busyCalls) expect(call.atMs % 25).toBe(0);
  // Back to a trickle: the next rate sample finds it quiet and the grid is 5 ms again.
  clock.advance(200);
  const before = calls.length;
  for (let i = 0; i < 3; i++) {
    done.succeeded(job(), undefined);
    clock.advance(40);
  }
  const after = calls.slice(before);
  expect(after.length).toBe(3);
  expect(after.some((call) => call.atMs % 25 !== 0)).toBe(true);
});

test("in a burst (more than 30,000 acks a second) they keep the 5-ms grid: each flush is large already", () => {
  const { calls, ackAtRate } = setup();
  ackAtRate(60, 400);
  expect(calls.reduce((sum, call) => sum + call.items, 0)).toBe(24_000);
  expect(calls.length).toBeGreaterThanOrEqual(70);
  expect(calls.some((call) => call.atMs % 25 !== 0)).toBe(true);
});
