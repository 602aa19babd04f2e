/**
 * The Celery hand-off case's list poll (scripts/bench/celery-case.ts): fine
 * (1 ms) until the first message and near the last, coarse in between, so
 * the first and last pushes keep a 1-ms resolution while the poller stays
 * off the two cores it measures.
 */
import { expect, test } from "bun:test";
import { nextPollMs } from "../../scripts/bench/celery-case.ts";

test("polls every ms until the first message is on the list", () => {
  expect(nextPollMs(0, 50_000, NaN)).toBe(1);
  expect(nextPollMs(0, 50_000, 0)).toBe(1);
});

test("polls coarsely while the rate so far puts the last message far away", () => {
  // 5,000 of 50,000 after 100 ms: the rest takes ~900 ms.
  expect(nextPollMs(5_000, 50_000, 100)).toBe(10);
  // 40,000 after 800 ms: ~200 ms left.
  expect(nextPollMs(40_000, 50_000, 800)).toBe(10);
});

test("polls every ms again once the last message is near", () => {
  // 49,500 after 990 ms: ~10 ms left, under two coarse polls.
  expect(nextPollMs(49_500, 50_000, 990)).toBe(1);
  expect(nextPollMs(49_999, 50_000, 1_000)).toBe(1);
  // The first poll that sees messages (no time since the first yet) stays fine.
  expect(nextPollMs(900, 50_000, 0)).toBe(1);
});
