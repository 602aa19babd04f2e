/**
 * The steady case's floor probe (scripts/bench/timer-floor.ts): a real run of
 * the script for one second, whose summary the bench puts beside each row.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { LatenessSummary } from "../../scripts/bench/protocol.ts";

const SCRIPT = join(import.meta.dir, "../../scripts/bench/timer-floor.ts");

test("the timer floor probe fires its timer for the time asked and never early", async () => {
  const started = performance.now();
  const probe = Bun.spawn(["bun", SCRIPT, "1"], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(probe.stdout).text(), probe.exited]);
  const elapsedMs = performance.now() - started;
  expect(code).toBe(0);
  const summary = JSON.parse(out.trim()) as LatenessSummary;
  // One timer every 2-3 ms for a second: a few hundred samples even on a busy machine.
  expect(summary.count).toBeGreaterThan(50);
  expect(summary.count).toBeLessThanOrEqual(1000);
  expect(summary.early).toBe(0);
  expect(summary.min).toBeGreaterThanOrEqual(0);
  expect(summary.p99).toBeGreaterThanOrEqual(summary.p50!);
  expect(summary.max).toBeGreaterThanOrEqual(summary.p99!);
  expect(elapsedMs).toBeGreaterThanOrEqual(1000);
});

test("the timer floor probe refuses a missing duration with one line and exit 2", async () => {
  const probe = Bun.spawn(["bun", SCRIPT], { stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(probe.stderr).text(), probe.exited]);
  expect(code).toBe(2);
  expect(err.trim()).toBe("usage: bun scripts/bench/timer-floor.ts <seconds>");
});
