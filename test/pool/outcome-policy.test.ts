// The one rule from an attempt's outcome to what happens to its task, without Redis or timers.
import { expect, test } from "bun:test";
import { decideAttempt, decideStart, unavailableDelayMs, UNAVAILABLE_MAX_DELAY_MS, UNAVAILABLE_MIN_DELAY_MS, type PolicyJob } from "../../src/pool/outcome-policy.ts";
import { dueMsOfScore, dueScore } from "../../src/task/model.ts";

const NOW = 1_800_000_000_000;

function job(attempt: number, overrides: Partial<PolicyJob["spec"]> = {}): PolicyJob {
  return { attempt, spec: { maxAttempts: 3, backoff: { baseMs: 1_000, maxMs: 60_000 }, priority: 0, expiresAt: null, createdAt: NOW - 60_000, ...overrides } };
}

test("a success is its own decision (nothing made for it)", () => {
  const outcome = { kind: "succeeded" as const, result: { ok: 1 } };
  expect(decideAttempt(job(1), outcome, NOW)).toBe(outcome);
});

test("a failure is retried with the task's backoff while attempts remain, then dead", () => {
  // random 0.999…: the top of the full-jitter window, base * 2^(attempt-1).
  const first = decideAttempt(job(1), { kind: "failed", error: "boom" }, NOW, () => 0.9999);
  expect(first).toEqual({ kind: "retry", score: dueScore(NOW + 1_000, 0), delayMs: 1_000, error: "boom", countsAttempt: true });
  const second = decideAttempt(job(2), { kind: "failed", error: "boom" }, NOW, () => 0.9999);
  expect(second).toMatchObject({ kind: "retry", delayMs: 2_000, countsAttempt: true });
  expect(decideAttempt(job(3), { kind: "failed", error: "boom" }, NOW)).toEqual({ kind: "dead", error: "boom" });
});

test("the retry score keeps the task's priority", () => {
  const decision = decideAttempt(job(1, { priority: 9 }), { kind: "failed", error: "x" }, NOW, () => 0);
  expect(decision).toMatchObject({ kind: "retry", score: dueScore(NOW, 9) });
});

test("final dead ends at once; final done ends succeeded with the error kept as its note", () => {
  expect(decideAttempt(job(1), { kind: "failed", error: "HTTP 404", final: "dead" }, NOW)).toEqual({ kind: "dead", error: "HTTP 404" });
  expect(decideAttempt(job(1), { kind: "failed", error: "HTTP 410 Gone", final: "done" }, NOW)).toEqual({ kind: "succeeded", result: undefined, note: "HTTP 410 Gone" });
  // "done" ends even on the last attempt as done, not dead.
  expect(decideAttempt(job(3), { kind: "failed", error: "gone", final: "done" }, NOW).kind).toBe("succeeded");
});

test("retryAt (a Retry-After) replaces the backoff, at most backoff.maxMs ahead, never in the past", () => {
  const at = decideAttempt(job(1), { kind: "failed", error: "429", retryAt: NOW + 7_500 }, NOW, () => 0);
  expect(at).toMatchObject({ kind: "retry", delayMs: 7_500, score: dueScore(NOW + 7_500, 0), countsAttempt: true });
  const far = decideAttempt(job(1), { kind: "failed", error: "429", retryAt: NOW + 86_400_000 }, NOW);
  expect(far).toMatchObject({ kind: "retry", delayMs: 60_000 });
  const past = decideAttempt(job(1), { kind: "failed", error: "503", retryAt: NOW - 5_000 }, NOW);
  expect(past).toMatchObject({ kind: "retry", delayMs: 0 });
  // Attempts still count: on the last one a Retry-After does not keep the task alive.
  expect(decideAttempt(job(3), { kind: "failed", error: "429", retryAt: NOW + 1 }, NOW).kind).toBe("dead");
});

test("an unavailable target waits without using an attempt, longer as the task ages, within bounds", () => {
  const young = decideAttempt(job(3, { createdAt: NOW - 2_000 }), { kind: "unavailable", error: "no handler" }, NOW);
  // On its last attempt it still is not dead: nothing was tried.
  expect(young).toEqual({ kind: "retry", score: dueScore(NOW + UNAVAILABLE_MIN_DELAY_MS, 0), delayMs: UNAVAILABLE_MIN_DELAY_MS, error: "no handler", countsAttempt: false });
  const hourOld = decideAttempt(job(1, { createdAt: NOW - 600_000 }), { kind: "unavailable", error: "no handler" }, NOW);
  expect(hourOld).toMatchObject({ kind: "retry", delayMs: 60_000, countsAttempt: false });
  expect(unavailableDelayMs(0)).toBe(UNAVAILABLE_MIN_DELAY_MS);
  expect(unavailableDelayMs(20_000)).toBe(2_000);
  expect(unavailableDelayMs(7 * 86_400_000)).toBe(UNAVAILABLE_MAX_DELAY_MS);
  expect(dueMsOfScore((hourOld as { score: string }).score)).toBe(NOW + 60_000);
});

test("settled (the target recorded the end itself) passes through", () => {
  const outcome = { kind: "settled" as const };
  expect(decideAttempt(job(1), outcome, NOW)).toBe(outcome);
});

test("start: expired past expiresAt, dead when a reaped task is past maxAttempts, else start", () => {
  expect(decideStart(job(1), NOW).kind).toBe("start");
  expect(decideStart(job(1, { expiresAt: NOW }), NOW).kind).toBe("start");
  expect(decideStart(job(1, { expiresAt: NOW - 1 }), NOW).kind).toBe("expired");
  expect(decideStart(job(4), NOW)).toEqual({ kind: "dead", error: "worker lost 3 times (visibility deadline passed)" });
  // The common answers are shared objects: the start path makes nothing per task.
  expect(decideStart(job(1), NOW)).toBe(decideStart(job(2), NOW));
});
