// The shard actor's pure parts: refill planning, claim planning and the claim lead, held starts,
// reap planning and cold promotion's steps. Inputs in, decisions out; no clock but the one passed.
import { ShardMap } from "../../src/core/shard-map.ts";
import { expect, test } from "bun:test";
import { nextRefillDelayMs, planRefill, wantsRefillNow, windowEnd, type RefillInputs } from "../../src/shard/refill-plan.ts";
import {
  BIG_BUCKET_LEAD_MS,
  FULL_BATCH,
  MAX_CLAIMS_IN_FLIGHT,
  MAX_SLICE_MS,
  NO_CLAIM,
  claimSize,
  claimSliceMs,
  claimUpTo,
  claimUpToAfter,
  earlyClaimDelayMs,
  mayClaim,
  sizingSpan,
} from "../../src/shard/claim-plan.ts";
import { ClaimLead, MAX_LEAD_MS, RTT_WINDOW_MS } from "../../src/shard/claim-lead.ts";
import { HeldStarts } from "../../src/shard/held-starts.ts";
import { REAP_BATCH, planAfterReap } from "../../src/shard/reap-plan.ts";
import { ColdPromotion, sliceSize } from "../../src/shard/cold-promoter.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { Job } from "../../src/pool/job.ts";

const NOW = 1_767_225_600_000;

const refill = (over: Partial<RefillInputs> = {}): RefillInputs => ({
  nowMs: NOW,
  refillCount: 0,
  fullReloadEvery: 5,
  loadedUntilScore: -Infinity,
  coveredUpToMs: -Infinity,
  claimUpToMs: -Infinity,
  lookaheadMs: 2000,
  claimAheadMs: 10,
  windowCap: 1000,
  windowSize: 0,
  ...over,
});

test("planRefill: the first and every fullReloadEvery-th refill reload the window from now, the others read only what is new", () => {
  expect(planRefill(refill())).toEqual({ full: true, fromScore: NOW, toScore: NOW + 2000, limit: 1000, probeToScore: NOW + 10 });
  const incremental = planRefill(refill({ refillCount: 1, loadedUntilScore: NOW + 1500, windowSize: 400 }));
  expect(incremental).toEqual({ full: false, fromScore: NOW + 1500, toScore: NOW + 2000, limit: 600, probeToScore: NOW + 10 });
  const full = planRefill(refill({ refillCount: 5, loadedUntilScore: NOW + 1500, windowSize: 400 }));
  expect(full.full).toBe(true);
  expect(full.fromScore).toBe(NOW);
  expect(full.limit).toBe(1000);
  // Never loads what lies in the past, even when the loaded window ended there.
  expect(planRefill(refill({ refillCount: 1, loadedUntilScore: NOW - 50 })).fromScore).toBe(NOW);
  // Nor what a claim issued or wanted already takes: from the covered span's last ms + 15/16.
  expect(planRefill(refill({ coveredUpToMs: NOW + 100 })).fromScore).toBe(NOW + 100 + 15 / 16);
  expect(planRefill(refill({ coveredUpToMs: NOW + 100, claimUpToMs: NOW + 300 })).fromScore).toBe(NOW + 300 + 15 / 16);
  // A window at its cap still reads one (limit never 0).
  expect(planRefill(refill({ refillCount: 1, windowSize: 1000 })).limit).toBe(1);
});

test("windowEnd and the next refill: a read cut off by its limit leaves a partial window, read on at once when it runs low", () => {
  expect(windowEnd(10, 10, String(NOW + 700), NOW + 2000)).toEqual({ partial: true, loadedUntilScore: NOW + 700 });
  expect(windowEnd(3, 10, String(NOW + 700), NOW + 2000)).toEqual({ partial: false, loadedUntilScore: NOW + 2000 });
  expect(windowEnd(0, 10, undefined, NOW + 2000)).toEqual({ partial: false, loadedUntilScore: NOW + 2000 });
  expect(wantsRefillNow(true, 499, 1000)).toBe(true);
  expect(wantsRefillNow(true, 500, 1000)).toBe(false);
  expect(wantsRefillNow(false, 0, 1000)).toBe(false);
  expect(nextRefillDelayMs(true, 10, 1000, 2000, 3, 300)).toBe(0);
  // The first periodic refill (refill count 1 done) is staggered by the shard's offset; later ones are not.
  expect(nextRefillDelayMs(false, 10, 1000, 2000, 1, 300)).toBe(1300);
  expect(nextRefillDelayMs(false, 10, 1000, 2000, 1, 0)).toBe(1000);
  expect(nextRefillDelayMs(false, 10, 1000, 2000, 2, 300)).toBe(1000);
});

test("claim planning: when to claim, up to when, and how many slots", () => {
  expect(mayClaim(-Infinity, 0)).toBe(false);
  expect(mayClaim(NOW, 0)).toBe(true);
  expect(mayClaim(NOW, MAX_CLAIMS_IN_FLIGHT)).toBe(false);
  // Up to the wanted ms, never before now.
  expect(claimUpTo(NOW + 20, NOW, 0, -Infinity, 3)).toBe(NOW + 20);
  expect(claimUpTo(NOW - 500, NOW, 0, -Infinity, 3)).toBe(NOW);
  // A second claim only for what the first does not cover, or for a full first claim's remainder.
  expect(claimUpTo(NOW + 20, NOW, 1, NOW + 20, 3)).toBe(NO_CLAIM);
  expect(claimUpTo(NOW + 30, NOW, 1, NOW + 20, 3)).toBe(NOW + 30);
  expect(claimUpTo(NOW + 20, NOW, 1, NOW + 20, FULL_BATCH)).toBe(NOW + 20);
  // Sized by what is known to be due, plus slack; a full batch when unknown.
  expect(claimSize(1000, 5, 0)).toBe(5 + 8 + 1);
  expect(claimSize(1000, 3, 97)).toBe(100 + 8 + 25);
  expect(claimSize(100, 3, 97)).toBe(100);
  expect(claimSize(1000, FULL_BATCH, 0)).toBe(1000);
  expect(claimSize(1000, 5, null)).toBe(1000);
  expect(sizingSpan(NOW, -Infinity, 10)).toEqual({ fromMs: NOW - 1, maxSpanMs: MAX_LEAD_MS + 2 * MAX_SLICE_MS });
  expect(sizingSpan(NOW, -Infinity, 40).maxSpanMs).toBe(MAX_LEAD_MS + 80);
  expect(sizingSpan(NOW, NOW + 15, 10).fromMs).toBe(NOW + 15);
  // After the reply: a claim that filled its slots leaves the want in place; otherwise it is done
  // unless a later ms was wanted meanwhile.
  expect(claimUpToAfter(NOW + 20, NOW + 20, true)).toBe(NOW + 20);
  expect(claimUpToAfter(NOW + 20, NOW + 20, false)).toBe(-Infinity);
  expect(claimUpToAfter(NOW + 40, NOW + 20, false)).toBe(NOW + 40);
  // Each claim covers claimAheadMs while claims are quick, a quarter of a grown lead (whole grid
  // steps, at most MAX_SLICE_MS) when they are slow; no slice when claimAheadMs is 0.
  expect(claimSliceMs(5, 5)).toBe(5);
  expect(claimSliceMs(12, 5)).toBe(5);
  expect(claimSliceMs(50, 5)).toBe(10);
  expect(claimSliceMs(MAX_LEAD_MS, 5)).toBe(MAX_SLICE_MS);
  expect(claimSliceMs(MAX_LEAD_MS, 10)).toBe(20);
  expect(claimSliceMs(MAX_LEAD_MS, 40)).toBe(40);
  expect(claimSliceMs(MAX_LEAD_MS, 0)).toBe(0);
  // A big bucket is claimed BIG_BUCKET_LEAD_MS early unless the wheel's own alarm comes first.
  expect(earlyClaimDelayMs(NOW + 1000, NOW, 10)).toBe(1000 - BIG_BUCKET_LEAD_MS);
  expect(earlyClaimDelayMs(NOW + BIG_BUCKET_LEAD_MS + 10, NOW, 10)).toBeNull();
});

test("the claim lead: claimAheadMs until claims are slow, then 2.5 x the slowest of the last 5-10 s, capped", () => {
  const lead = new ClaimLead(10);
  expect(lead.observe(2, NOW)).toBe(10);
  expect(lead.observe(8, NOW + 100)).toBe(20);
  expect(lead.observe(3, NOW + 200)).toBe(20);
  expect(lead.observe(60, NOW + 300)).toBe(MAX_LEAD_MS);
  // The next window still remembers the one before…
  expect(lead.observe(1, NOW + RTT_WINDOW_MS)).toBe(MAX_LEAD_MS);
  // …and after two quiet windows the spike is forgotten.
  expect(lead.observe(1, NOW + 2 * RTT_WINDOW_MS)).toBe(10);
  // A window skipped entirely (no claims for 10 s) forgets at once.
  const idle = new ClaimLead(10);
  idle.observe(30, NOW);
  expect(idle.observe(1, NOW + 2 * RTT_WINDOW_MS)).toBe(10);
});

const job = (id: string, dueMs: number): Job =>
  ({ shard: 0, leaseToken: "t", batch: "b", id, attempt: 1, dueMs, score: String(dueMs), specJson: "{}", spec: {} }) as Job;

test("held starts: grouped by due ms, released only when their ms has come, earliest first", () => {
  const held = new HeldStarts();
  expect(held.earliestDueMs()).toBeUndefined();
  expect(held.hold(job("b", NOW + 20))).toBe(true);
  expect(held.hold(job("c", NOW + 20))).toBe(false);
  expect(held.hold(job("a", NOW + 10))).toBe(true);
  expect(held.count).toBe(3);
  expect(held.earliestDueMs()).toBe(NOW + 10);
  // A timer firing a fraction of a ms early gets nothing.
  expect(held.releaseDue(NOW + 9.5)).toEqual([]);
  expect(held.releaseDue(NOW + 10).map((jobs) => jobs.map((j) => j.id))).toEqual([["a"]]);
  expect(held.earliestDueMs()).toBe(NOW + 20);
  held.hold(job("d", NOW + 30));
  expect(held.releaseDue(NOW + 50).map((jobs) => jobs.map((j) => j.id))).toEqual([["b", "c"], ["d"]]);
  expect(held.count).toBe(0);
  held.hold(job("e", NOW + 40));
  expect(held.releaseAll().flat().map((j) => j.id)).toEqual(["e"]);
  expect(held.count).toBe(0);
  expect(held.earliestDueMs()).toBeUndefined();
});

test("reap planning: claim what came back, up to its latest due ms; again at once when the batch was full", () => {
  expect(REAP_BATCH).toBe(1000);
  expect(planAfterReap([], false, NOW, 250)).toEqual({ claimUpToMs: null, nextReapInMs: 250 });
  expect(planAfterReap([], true, NOW, 250)).toEqual({ claimUpToMs: null, nextReapInMs: 0 });
  const entries = [{ score: String(NOW - 500) }, { score: `${NOW - 100}.5` }];
  expect(planAfterReap(entries, false, NOW, 250)).toEqual({ claimUpToMs: NOW, nextReapInMs: 250 });
  expect(planAfterReap([{ score: String(NOW + 30) }], false, NOW, 250).claimUpToMs).toBe(NOW + 30);
});

test("cold promotion steps: catch up 32 slots at a time back to back, then sweep once per third of the horizon", () => {
  expect(new ShardMap(4).slotsOf(1).slice(0, 3)).toEqual([1, 5, 9]);
  expect(sliceSize(4096, 1000, 3000)).toBe(4096);
  expect(sliceSize(4096, 1000, 3_600_000)).toBe(4);
  const duty = new ColdPromotion({ shard: 0, shardMap: new ShardMap(4), leaseToken: "t", log: silentLogger(), coldAfterMs: 30_000 });
  expect(duty.currentSweep).toBe("catching-up");
  let step = duty.plan(NOW);
  expect(step.slots).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116, 120, 124]);
  expect(step.upToScore).toBe(NOW + 30_000);
  let steps = 1;
  while (duty.settle(step, 1) === 0) {
    step = duty.plan(NOW);
    steps++;
  }
  expect(steps).toBe(4096 / 32);
  expect(duty.promoted).toBe(128);
  expect(duty.currentSweep).toBe("regular");
  // Every slot once per 10 s at one step a second: 410 slots a step.
  step = duty.plan(NOW);
  expect(step.slots.length).toBe(410);
  expect(step.slots[0]).toBe(0);
  expect(duty.settle(step, 0)).toBe(1000);
  expect(duty.plan(NOW).slots[0]).toBe(410 * 4);
  // Failures back off a second; the cold tier turned off promotes everything.
  expect(duty.failed(new Error("down"))).toBe(1000);
  const all = new ColdPromotion({ shard: 0, shardMap: new ShardMap(4), leaseToken: "t", log: silentLogger(), coldAfterMs: 30_000, promoteAll: true });
  expect(all.plan(NOW).upToScore).toBe(Number.MAX_SAFE_INTEGER);
});
