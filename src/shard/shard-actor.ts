/**
 * One shard's actor. It alone changes this shard's in-memory state, and only
 * while handling one message from its mailbox: timers, wake hints, pool
 * capacity and Redis replies all arrive as messages, so no two code paths
 * ever interleave on the window, the wheel or the claim bookkeeping. Its
 * message handler is the one place that changes that state and calls the
 * store; what to do is decided by small pure parts beside it:
 *
 * - refill-plan.ts: the shard's look-ahead window (a count of tasks per due
 *   ms, never ids or payloads) lives in a timer wheel, loaded from the due ZSET every
 *   half window, only what is new, with a periodic full reload as the safety
 *   net for lost wake hints; refills are staggered across shards
 *   (refillOffsetMs) so they never all hit Redis in the same millisecond
 *   (that is what caused the tail in the prototype);
 * - claim-plan.ts and claim-lead.ts: when the wheel says something is due
 *   (claimAheadMs early, or more: the lead grows to cover the claim round
 *   trips this shard has been seeing), claim from Redis everything due within
 *   the next slice after it (claimAheadMs, up to a quarter of a grown lead:
 *   claimSliceMs), in due order with priority breaking ties,
 *   but never more than the pool has room for (slots reserved first). A
 *   bucket of many tasks due at one instant is claimed BIG_BUCKET_LEAD_MS
 *   early, so its first batch is in memory at the instant; a past-due
 *   backlog is drained claim after claim at full speed;
 * - held-starts.ts: tasks claimed early wait for their exact due millisecond
 *   (one timer for the earliest), then start;
 * - reap-plan.ts: attempts whose visibility deadline passed (their worker
 *   died) are reaped every reapEveryMs, and again at once while a reap comes
 *   back full;
 * - shard-duty.ts: other per-shard work on a timer, run through this mailbox
 *   one step at a time (cold-promoter.ts, schedule-planting.ts).
 *
 * Adding a per-shard duty (the next occurrence of a recurring schedule, a
 * resharding migration step): implement ShardDuty in its own file in this
 * folder (plan a step from its state and the time, perform it with one store
 * call, settle the reply into its state and answer the next delay), add the
 * store method it calls to ShardStore (ports.ts), and construct it in
 * buildDuties below. The actor then starts it with the shard, skips it while
 * the lease is not locally valid, stops it on quiet/stop, backs it off on
 * errors, and stops the shard when it answers LEASE_LOST.
 *
 * Lifecycle is `state` alone: new → running → quiet (stops claiming,
 * refilling, reaping and duties; held tasks still start) → stopped (lease
 * lost: held tasks dropped, nothing starts).
 * Memory is O(tasks due within the window), capped by windowCap.
 */
import { TimerWheel, type WheelClock } from "../core/timer-wheel.ts";
import { sharedClock } from "../core/coalescing-clock.ts";
import type { ErrorReporter } from "../core/log-throttle.ts";
import { LatencyRecorder } from "../core/latency-histogram.ts";
import { scoreAfter } from "../task/model.ts";
import { DEFAULT_COLD_AFTER_MS } from "../config/defaults.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { LEASE_LOST, type ClaimedBatch, type LeaseLost } from "../store/outcomes.ts";
import type { WindowRead } from "../store/attempts.ts";
import { jobFromClaim, type Job } from "../pool/job.ts";
import type { Logger } from "../core/log.ts";
import type { ShardPool, ShardStore } from "./ports.ts";
import { SchedulePlanting, type PlanterStore } from "./schedule-planting.ts";
import type { TaskDefaults } from "../task/schedule-input.ts";
import type { OutboundPolicy } from "../core/outbound-policy.ts";
import type { ShardDuty } from "./shard-duty.ts";
import { ColdPromotion } from "./cold-promoter.ts";
import { ReshardMover, type ReshardMoverOptions } from "./reshard-mover.ts";
import { HeldStarts } from "./held-starts.ts";
import { ClaimLead } from "./claim-lead.ts";
import { nextRefillDelayMs, planRefill, wantsRefillNow, windowEnd } from "./refill-plan.ts";
import {
  BIG_BUCKET_TASKS,
  FULL_BATCH,
  NO_CLAIM,
  claimSize,
  claimUpTo,
  claimSliceMs,
  claimUpToAfter,
  earlyClaimDelayMs,
  mayClaim,
  sizingSpan,
} from "./claim-plan.ts";
import { REAP_BATCH, planAfterReap } from "./reap-plan.ts";

/**
 * Due ms of a refill reply counted into the wheel per turn of the event loop. At 20,000 tasks a
 * second a shard's full reload brings a few thousand tasks; when the wheel kept ids, putting them
 * in in one turn kept held starts waiting 10-17 ms.
 */
const REFILL_STEP = 512;

export interface ShardActorOptions {
  shard: number;
  leaseToken: string;
  store: ShardStore;
  pool: ShardPool;
  log: Logger;
  lookaheadMs: number;
  claimAheadMs: number;
  /** Max tasks per claim script call. */
  claimBatch: number;
  /** Max tasks counted in the wheel; beyond it the window is loaded in parts. */
  windowCap: number;
  visibilityMs: number;
  reapEveryMs: number;
  /**
   * Stagger of this shard's background reads: the first reap runs this long after start, and the
   * first periodic refill this much later than half a look-ahead after the first (refill-plan.ts).
   */
  refillOffsetMs: number;
  /**
   * When the first reap runs (default refillOffsetMs). A node reaps at once
   * on a shard it just took: a dead node's claimed batches are taken back
   * then, and tasks due meanwhile wait on them.
   */
  firstReapInMs?: number;
  /** Every n-th refill reloads the whole window (lost-hint safety net). */
  fullReloadEvery: number;
  /** The claim or reap script said this token no longer holds the lease. */
  onLeaseLost: (shard: number, leaseToken: string) => void;
  /**
   * Subscribes this shard's wake hints. The first refill waits for it: a task
   * scheduled before the subscription is then found by that refill, and one
   * scheduled after it sends a hint this actor receives.
   */
  subscribeWakes?: () => Promise<void>;
  /**
   * Whether this node may still act on the shard by its own monotonic clock
   * (ShardOwnership.canStart). A node that was frozen past its lease sends no
   * claim or reap until it has renewed; Redis would refuse them anyway, but a
   * zombie should not even try.
   */
  leaseValid?: () => boolean;
  /**
   * Live node ids (the registry as of the last heartbeat), null before the
   * first. For visibilityMs after this actor started (while batches claimed
   * under an earlier lease may be left: their keepalives are refused since),
   * reaping also takes back at once the batches of claimers gone from it.
   */
  liveNodes?: () => readonly string[] | null;
  /** Failed refills, claims and reaps go here (counted, throttled) instead of one log line each. */
  errors?: ErrorReporter;
  /**
   * The cold tier: a ColdPromotion duty runs beside the actor while it owns
   * the shard and moves cold tasks into `due` in time (all of them when the
   * horizon is 0, the cold tier turned off).
   */
  cold?: { shardMap: ShardMap | (() => ShardMap); coldAfterMs: number; stepMs?: number };
  /**
   * Recurring schedules: a SchedulePlanting duty plants the next occurrences of the shard's
   * schedules while the actor owns it (docs/schedules.md).
   */
  schedules?: { store: PlanterStore; shardMap: ShardMap | (() => ShardMap); defaults: TaskDefaults; outboundPolicy?: OutboundPolicy };
  /**
   * Resharding: while a resize runs and this shard is a source, a
   * ReshardMover duty moves its tasks of moving slots to their new shards.
   */
  reshard?: Omit<ReshardMoverOptions, "shard" | "leaseToken" | "log">;
  clock?: WheelClock;
}

export type ActorState = "new" | "running" | "quiet" | "stopped";

/** A duty as the actor runs it: its timer, and whether a step is in flight. */
interface DutyRun {
  duty: ShardDuty;
  timer: unknown;
  stepping: boolean;
}

type Message =
  | { type: "refill" }
  /** from, pastDue: where a refill reply's processing goes on (see REFILL_STEP), and what it found past due so far. */
  | { type: "refilled"; read: WindowRead; toScore: number; limit: number; full: boolean; from?: number; pastDue?: number }
  /** count: tasks the wheel counted at dueMs. */
  | { type: "due"; dueMs: number; count: number }
  /** scores: the due scores of the tasks of one hint message (only when they are due matters). */
  | { type: "wake"; scores: number[] }
  | { type: "capacity" }
  /** fromHoldRoom: the claim reserved the pool's hold room, not slots (see reserveHoldRoom). */
  | { type: "claimed"; claimed: ClaimedBatch | null | LeaseLost; reserved: number; fromHoldRoom: boolean; upToMs: number }
  | { type: "hold-due" }
  | { type: "early-claim"; dueMs: number }
  | { type: "reap" }
  | { type: "reaped"; reaped: { entries: { id: string; score: string }[]; more: boolean } | LeaseLost }
  | { type: "duty-step"; run: DutyRun }
  | { type: "duty-done"; run: DutyRun; step: unknown; reply: unknown }
  | { type: "duty-failed"; run: DutyRun; error: unknown }
  | { type: "io-failed"; op: "refill" | "claim" | "reap"; error: unknown; reserved?: number; fromHoldRoom?: boolean };

/** How soon to look again when the lease is not locally valid (a renewal or a loss settles it within a round). */
const LEASE_WAIT_MS = 50;
const MAX_ERROR_BACKOFF_MS = 1000;

export interface ShardActorStats {
  shard: number;
  state: ActorState;
  leaseToken: string;
  windowSize: number;
  held: number;
  fired: number;
  reaped: number;
  /** Tasks whose claim came back after their due ms (the lead did not cover the round trip). */
  claimedLate: number;
  /** The wheel's current lead (claimAheadMs, or more after slow claims). */
  leadMs: number;
  latenessP50: number | null;
  latenessP99: number | null;
  nextWakeMs: number | null;
}

export class ShardActor {
  readonly shard: number;
  readonly leaseToken: string;
  private readonly options: ShardActorOptions;
  private readonly clock: WheelClock;
  private readonly wheel: TimerWheel;
  /**
   * The lifecycle, alone. The few flags below are not lifecycle: they say a call is in flight
   * (refilling, reaping, a duty's stepping, waitingForCapacity) or how the window was read
   * (windowPartial). Whether the next claim's size is known is `expected` (FULL_BATCH), not a flag.
   */
  private state: ActorState = "new";
  private readonly mailbox: Message[] = [];
  private draining = false;

  // window
  private loadedUntilScore = -Infinity;
  private windowPartial = false;
  private refilling = false;
  private refillCount = 0;
  private refillTimer: unknown = null;

  // claiming
  /** Highest due ms known to need claiming; -Infinity when nothing is wanted. */
  private claimUpToMs = -Infinity;
  /**
   * Due ms up to which the last issued claim takes everything that was in the
   * wheel when it was issued: the wheel's later alarms for buckets up to here
   * need no claim of their own. A task that enters the window later with a
   * due time up to here is claimed directly (see addToWindow).
   */
  private coveredUpToMs = -Infinity;
  /**
   * What the next claim expects to find beyond what the wheel still holds in
   * its span: keys of buckets already delivered for it, or FULL_BATCH when it
   * may find any number (see claimSize in claim-plan.ts).
   */
  private expected = 0;
  /** Send times of the claims in flight, oldest first (replies come back in order). */
  private readonly claimIssuedAtMs: number[] = [];
  private readonly lead: ClaimLead;
  /** Due time each wheel alarm's claim covers (claimSliceMs of the lead); also the wheel's grid. */
  private sliceMs: number;
  private readonly earlyClaimTimers = new Map<number, unknown>();
  /** Claims sent and not answered yet (at most MAX_CLAIMS_IN_FLIGHT). */
  private claimsInFlight = 0;
  private waitingForCapacity = false;
  private claimRetryTimer: unknown = null;
  private errorBackoffMs = 0;

  // claimed early, waiting for their due ms
  private readonly held = new HeldStarts();
  private holdTimer: unknown = null;
  private holdTimerAtMs = Infinity;

  // reaping
  private reapTimer: unknown = null;
  /** When this actor (and its lease) started, by its clock: see onReap. */
  private startedAtMs = 0;
  private reaping = false;

  // duties
  private readonly cold: ColdPromotion | null;
  private readonly duties: DutyRun[];

  private quietWaiters: (() => void)[] = [];
  readonly lateness = new LatencyRecorder();
  private fired = 0;
  private claimedLate = 0;
  private reaped = 0;

  constructor(options: ShardActorOptions) {
    this.options = options;
    this.shard = options.shard;
    this.leaseToken = options.leaseToken;
    // The node's shards share one coalescing clock and one claim grid, so the claims of all shards
    // for one grid step leave in one write (see CoalescingClock).
    this.clock = options.clock ?? sharedClock;
    this.lead = new ClaimLead(options.claimAheadMs);
    this.sliceMs = claimSliceMs(options.claimAheadMs, options.claimAheadMs);
    this.wheel = new TimerWheel({
      clock: this.clock,
      leadMs: options.claimAheadMs,
      alignMs: Math.max(1, this.sliceMs),
      onDue: (dueMs, count) => this.post({ type: "due", dueMs, count }),
    });
    this.cold = this.buildCold();
    this.duties = this.buildDuties();
  }

  /** The cold tier's promotion, when the node runs one. */
  private buildCold(): ColdPromotion | null {
    const cold = this.options.cold;
    if (!cold) return null;
    // With the cold tier turned off (0) the promotion still runs, at the default pace, and moves
    // whatever an earlier setting left there into `due`.
    return new ColdPromotion({
      shard: this.shard,
      shardMap: cold.shardMap,
      leaseToken: this.leaseToken,
      log: this.options.log,
      coldAfterMs: cold.coldAfterMs > 0 ? cold.coldAfterMs : DEFAULT_COLD_AFTER_MS,
      promoteAll: cold.coldAfterMs === 0,
      stepMs: cold.stepMs,
    });
  }

  /** Every per-shard duty this actor runs (a new duty is added here; see the header). */
  private buildDuties(): DutyRun[] {
    const duties: ShardDuty[] = [];
    if (this.cold) duties.push(this.cold as ShardDuty);
    const schedules = this.options.schedules;
    if (schedules) {
      duties.push(
        new SchedulePlanting({
          shard: this.shard,
          leaseToken: this.leaseToken,
          schedules: schedules.store,
          shards: schedules.shardMap,
          defaults: schedules.defaults,
          ...(schedules.outboundPolicy && { outboundPolicy: schedules.outboundPolicy }),
          log: this.options.log,
        }) as ShardDuty,
      );
    }
    if (this.options.reshard) {
      duties.push(new ReshardMover({ ...this.options.reshard, shard: this.shard, leaseToken: this.leaseToken, log: this.options.log }) as ShardDuty);
    }
    return duties.map((duty) => ({ duty, timer: null, stepping: false }));
  }

  get currentState(): ActorState {
    return this.state;
  }

  start(): void {
    if (this.state !== "new") return;
    this.state = "running";
    const firstRefill = () => this.post({ type: "refill" });
    if (this.options.subscribeWakes) {
      // Refill once subscribed; a failed subscription only costs hint latency, never tasks.
      this.options.subscribeWakes().then(firstRefill, (error) => {
        this.options.log.warn({ shard: this.shard, err: String(error) }, "wake subscription failed; refills still find new tasks");
        firstRefill();
      });
    } else {
      firstRefill();
    }
    this.startedAtMs = this.clock.now();
    this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), this.options.firstReapInMs ?? this.options.refillOffsetMs);
    for (const run of this.duties) this.scheduleDuty(run, run.duty.firstStepInMs);
  }

  /** Tasks this actor's cold promotion moved from the cold tier into `due`. */
  get promoted(): number {
    return this.cold?.promoted ?? 0;
  }

  /**
   * Wake hints: the due scores of new tasks, from one pub/sub message or a retry this node
   * scheduled on the shard. One message for all of them: a message per task was most of what a
   * hint cost at 20,000 tasks a second.
   */
  hint(scores: number[]): void {
    this.post({ type: "wake", scores });
  }

  /** Records a start of one of this shard's tasks (called by the node from the pool). */
  recordStart(latenessMs: number): void {
    this.fired++;
    this.lateness.record(latenessMs);
  }

  /**
   * Stops claiming, refilling, reaping and duties. Tasks already claimed and
   * held for their due ms still start (they are at most a lead and a slice away).
   * Resolves when no claim is in flight and nothing is held.
   */
  quiet(): Promise<void> {
    if (this.state === "new" || this.state === "running") {
      this.state = "quiet";
      this.stopTimers();
    }
    return this.whenIdle();
  }

  /** Lease lost: stop everything at once and start nothing more; held tasks are dropped. */
  stop(): void {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.stopTimers();
    if (this.holdTimer !== null) this.clock.clearTimer(this.holdTimer);
    this.holdTimer = null;
    this.holdTimerAtMs = Infinity;
    for (const jobs of this.held.releaseAll()) {
      for (const job of jobs) this.options.pool.dropHeld(job.shard, job.batch);
    }
    this.resolveQuietIfIdle();
  }

  stats(): ShardActorStats {
    return {
      shard: this.shard,
      state: this.state,
      leaseToken: this.leaseToken,
      windowSize: this.wheel.size,
      held: this.held.count,
      fired: this.fired,
      claimedLate: this.claimedLate,
      leadMs: this.wheel.leadMs,
      reaped: this.reaped,
      latenessP50: this.lateness.percentile(50),
      latenessP99: this.lateness.percentile(99),
      nextWakeMs: this.wheel.nextDueMs(),
    };
  }

  // ------------------------------------------------------------------ mailbox

  private post(message: Message): void {
    this.mailbox.push(message);
    if (this.draining) return;
    this.draining = true;
    try {
      let next: Message | undefined;
      while ((next = this.mailbox.shift()) !== undefined) this.handle(next);
    } finally {
      this.draining = false;
    }
  }

  private handle(message: Message): void {
    switch (message.type) {
      case "refill":
        return this.onRefill();
      case "refilled":
        return this.onRefilled(message);
      case "due":
        return this.onWheelDue(message.dueMs, message.count);
      case "wake":
        return this.onWake(message.scores);
      case "capacity":
        this.waitingForCapacity = false;
        return this.tryClaim();
      case "claimed":
        return this.onClaimed(message.claimed, message.reserved, message.fromHoldRoom, message.upToMs);
      case "hold-due":
        return this.onHoldDue();
      case "early-claim":
        return this.onEarlyClaim(message.dueMs);
      case "reap":
        return this.onReap();
      case "reaped":
        return this.onReaped(message.reaped);
      case "duty-step":
        return this.onDutyStep(message.run);
      case "duty-done":
        return this.onDutyDone(message.run, message.step, message.reply);
      case "duty-failed":
        return this.onDutyFailed(message.run, message.error);
      case "io-failed":
        return this.onIoFailed(message.op, message.error, message.reserved ?? 0, message.fromHoldRoom ?? false);
    }
  }

  private get active(): boolean {
    return this.state === "running";
  }

  private leaseLocallyValid(): boolean {
    return !this.options.leaseValid || this.options.leaseValid();
  }

  // ------------------------------------------------------------------ window

  private onRefill(): void {
    this.refillTimer = null;
    if (!this.active || this.refilling) return;
    this.refilling = true;
    const plan = planRefill({
      nowMs: this.clock.now(),
      refillCount: this.refillCount,
      fullReloadEvery: this.options.fullReloadEvery,
      loadedUntilScore: this.loadedUntilScore,
      coveredUpToMs: this.coveredUpToMs,
      claimUpToMs: this.claimUpToMs,
      lookaheadMs: this.options.lookaheadMs,
      claimAheadMs: this.options.claimAheadMs,
      windowCap: this.options.windowCap,
      windowSize: this.wheel.size,
    });
    const { toScore, limit, full } = plan;
    this.options.store.window(this.shard, plan.fromScore, toScore, limit, plan.probeToScore).then(
      (read) => this.post({ type: "refilled", read, toScore, limit, full }),
      (error) => this.post({ type: "io-failed", op: "refill", error }),
    );
  }

  private onRefilled(message: Extract<Message, { type: "refilled" }>): void {
    if (!this.active) {
      this.refilling = false;
      return;
    }
    let pastDue = message.pastDue ?? -Infinity;
    const from = message.from ?? 0;
    const counts = message.read.counts;
    let i = from;
    while (i < counts.length && i < from + 2 * REFILL_STEP && this.wheel.size < this.options.windowCap) {
      // The read saw every task of each ms it covers, so the wheel's count for that ms becomes at
      // least the read's count (hints may have counted some already).
      const dueMs = counts[i]!;
      if (!this.addToWindow(dueMs, counts[i + 1]!, true)) pastDue = Math.max(pastDue, dueMs);
      i += 2;
    }
    if (i < counts.length && i >= from + 2 * REFILL_STEP && this.wheel.size < this.options.windowCap) {
      // The rest in a later turn, so that held starts and claims due meanwhile are not kept waiting.
      this.clock.setTimer(() => this.post({ ...message, from: i, pastDue }), 0);
      return;
    }
    this.refilling = false;
    this.refillCount++;
    this.errorBackoffMs = 0;
    const now = this.clock.now();
    const end = windowEnd(message.read.tasksRead, message.limit, message.read.lastScore, message.toScore);
    this.windowPartial = end.partial;
    this.loadedUntilScore = end.loadedUntilScore;
    // Sized as for one task: a claim that comes back full turns into full batches (a backlog),
    // while a full batch for every probe hit would tie up the pool whenever claims run late.
    if (pastDue > -Infinity || message.read.dueNow) {
      this.expected++;
      this.raiseClaim(Math.max(pastDue, now));
    }
    this.scheduleRefill(
      nextRefillDelayMs(this.windowPartial, this.wheel.size, this.options.windowCap, this.options.lookaheadMs, this.refillCount, this.options.refillOffsetMs),
    );
  }

  private scheduleRefill(delayMs: number): void {
    if (!this.active || this.refillTimer !== null) return;
    this.refillTimer = this.clock.setTimer(() => this.post({ type: "refill" }), delayMs);
  }

  private onWake(scores: number[]): void {
    if (!this.active) return;
    let claimNowUpTo = -Infinity;
    for (const score of scores) {
      const dueMs = Math.floor(score);
      if (this.addToWindow(dueMs, 1, false)) continue;
      // A known task: the claim is sized for it.
      this.expected++;
      if (dueMs > claimNowUpTo) claimNowUpTo = dueMs;
    }
    if (claimNowUpTo > -Infinity) this.raiseClaim(Math.max(claimNowUpTo, this.clock.now()));
  }

  /**
   * Counts `count` tasks due at dueMs in the wheel (`fromRead`: a window read that saw every task
   * of that ms, see TimerWheel.raiseTo); false when they need claiming now instead: they are due,
   * or their due ms lies within a claim already issued, which may have run before they were
   * stored. A bucket that just became big arms its early claim.
   *
   * A task that moved (a hint for its new due ms) stays counted at its old ms too: that ms then
   * costs a claim that may find nothing, never a missed task.
   */
  private addToWindow(dueMs: number, count: number, fromRead: boolean): boolean {
    if (dueMs <= this.coveredUpToMs) return false;
    const before = this.wheel.countAt(dueMs);
    if (!(fromRead ? this.wheel.raiseTo(dueMs, count) : this.wheel.add(dueMs, count))) return false;
    if (before < BIG_BUCKET_TASKS && this.wheel.countAt(dueMs) >= BIG_BUCKET_TASKS) this.armEarlyClaim(dueMs);
    return true;
  }

  private armEarlyClaim(dueMs: number): void {
    const delayMs = earlyClaimDelayMs(dueMs, this.clock.now(), this.options.claimAheadMs);
    if (delayMs === null || this.earlyClaimTimers.has(dueMs)) return;
    const timer = this.clock.setTimer(() => {
      this.earlyClaimTimers.delete(dueMs);
      this.post({ type: "early-claim", dueMs });
    }, delayMs);
    this.earlyClaimTimers.set(dueMs, timer);
  }

  // ------------------------------------------------------------------ claiming

  /**
   * The wheel's alarm (the lead before dueMs): claim everything due up to
   * one more slice after it, unless a claim issued since already covers it.
   */
  private onWheelDue(dueMs: number, count: number): void {
    if (dueMs <= this.coveredUpToMs) return;
    this.expected += count;
    this.raiseClaim(dueMs + this.sliceMs);
  }

  /**
   * A big bucket's early claim. The claims that follow take the bucket from
   * Redis batch after batch (each one full until it is drained), so its count
   * leaves the wheel: the wheel's own alarm for it would only claim again.
   */
  private onEarlyClaim(dueMs: number): void {
    if (!this.active) return;
    this.expected = FULL_BATCH;
    this.raiseClaim(dueMs);
    this.wheel.removeDue(dueMs);
  }

  /** A claim of unknown size: everything due by upToMs, however much that is. */
  private wantClaim(upToMs: number): void {
    this.expected = FULL_BATCH;
    this.raiseClaim(upToMs);
  }

  private raiseClaim(upToMs: number): void {
    if (upToMs > this.claimUpToMs) this.claimUpToMs = upToMs;
    this.tryClaim();
  }

  private tryClaim(): void {
    if (!this.active || !mayClaim(this.claimUpToMs, this.claimsInFlight) || this.claimRetryTimer !== null) return;
    if (!this.leaseLocallyValid()) {
      this.claimRetryTimer = this.clock.setTimer(() => {
        this.claimRetryTimer = null;
        this.post({ type: "capacity" });
      }, LEASE_WAIT_MS);
      return;
    }
    const now = this.clock.now();
    const upToMs = claimUpTo(this.claimUpToMs, now, this.claimsInFlight, this.coveredUpToMs, this.expected);
    if (upToMs === NO_CLAIM) return;
    let inWheel: number | null = null;
    if (this.expected !== FULL_BATCH) {
      const span = sizingSpan(now, this.coveredUpToMs, this.options.claimAheadMs);
      inWheel = this.wheel.countBetween(span.fromMs, upToMs, span.maxSpanMs);
    }
    const wanted = claimSize(this.options.claimBatch, this.expected, inWheel);
    // The pool's hold room while its slots are mostly idle (short tasks: see reserveHoldRoom),
    // else its slots.
    let fromHoldRoom = true;
    let reserved = this.options.pool.reserveHoldRoom(wanted);
    if (reserved === 0) {
      fromHoldRoom = false;
      reserved = this.options.pool.reserve(wanted);
    }
    if (reserved === 0) {
      if (!this.waitingForCapacity) {
        this.waitingForCapacity = true;
        this.options.pool.whenCapacity(() => this.post({ type: "capacity" }));
      }
      return;
    }
    this.claimsInFlight++;
    this.claimIssuedAtMs.push(now);
    if (upToMs > this.coveredUpToMs) this.coveredUpToMs = upToMs;
    this.expected = 0;
    this.options.store
      .claim(this.shard, this.leaseToken, scoreAfter(upToMs), reserved, now + this.options.visibilityMs)
      .then(
        (claimed) => this.post({ type: "claimed", claimed, reserved, fromHoldRoom, upToMs }),
        (error) => this.post({ type: "io-failed", op: "claim", error, reserved, fromHoldRoom }),
      );
  }

  private onClaimed(claimed: ClaimedBatch | null | LeaseLost, reserved: number, fromHoldRoom: boolean, upToMs: number): void {
    this.claimsInFlight--;
    const answeredAt = this.clock.now();
    const issuedAt = this.claimIssuedAtMs.shift() ?? answeredAt;
    const lead = this.lead.observe(answeredAt - issuedAt, answeredAt);
    if (lead !== this.wheel.leadMs && this.state === "running") {
      this.wheel.leadMs = lead;
      this.sliceMs = claimSliceMs(lead, this.options.claimAheadMs);
      const grid = Math.max(1, this.sliceMs);
      if (this.wheel.alignMs !== grid) this.wheel.alignMs = grid;
    }
    if (claimed === LEASE_LOST) {
      this.options.pool.unreserve(reserved, fromHoldRoom);
      this.options.log.warn({ shard: this.shard, token: this.leaseToken }, "claim refused: lease lost");
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    this.errorBackoffMs = 0;
    const tasks = claimed?.tasks ?? [];
    if (this.state === "stopped") {
      // Lease lost while the claim was in flight: start none of it; the reaper returns it.
      this.options.pool.unreserve(reserved - tasks.length, fromHoldRoom);
      for (let i = 0; i < tasks.length; i++) this.options.pool.drop(this.shard, claimed!.batch, fromHoldRoom);
      return;
    }
    this.options.pool.unreserve(reserved - tasks.length, fromHoldRoom);
    if (claimed) this.options.pool.claimedBatch(this.shard, this.leaseToken, claimed.batch, tasks.length);
    const now = this.clock.now();
    // Claimed tasks stay counted in the wheel: a bucket that has not fired yet fires within the
    // covered span and is ignored (onWheelDue).
    // The deadline the claim script wrote was issuedAt + visibilityMs (by this clock).
    const visibleUntilMs = issuedAt + this.options.visibilityMs;
    for (const task of tasks) {
      const job = jobFromClaim(this.shard, this.leaseToken, claimed!.batch, task.id, task.record, visibleUntilMs);
      if (job.dueMs > now) {
        this.hold(job, fromHoldRoom);
      } else {
        if (job.dueMs < now) this.claimedLate++;
        this.options.pool.start(job, fromHoldRoom);
      }
    }
    const filled = tasks.length === reserved;
    if (filled) this.expected = FULL_BATCH;
    this.claimUpToMs = claimUpToAfter(this.claimUpToMs, upToMs, filled);
    if (wantsRefillNow(this.windowPartial, this.wheel.size, this.options.windowCap) && !this.refilling) {
      if (this.refillTimer !== null) this.clock.clearTimer(this.refillTimer);
      this.refillTimer = null;
      this.scheduleRefill(0);
    }
    if (this.state === "running") this.tryClaim();
    else this.resolveQuietIfIdle();
  }

  // ------------------------------------------------------------------ held starts

  private hold(job: Job, fromHoldRoom: boolean): void {
    this.options.pool.hold(fromHoldRoom);
    if (this.held.hold(job) && job.dueMs < this.holdTimerAtMs) this.armHold();
  }

  /** (Re)arms the one hold timer for the earliest held due ms. */
  private armHold(): void {
    if (this.holdTimer !== null) this.clock.clearTimer(this.holdTimer);
    this.holdTimer = null;
    this.holdTimerAtMs = Infinity;
    const first = this.held.earliestDueMs();
    if (first === undefined) return;
    this.holdTimerAtMs = first;
    this.holdTimer = this.clock.setTimer(() => {
      this.holdTimer = null;
      this.holdTimerAtMs = Infinity;
      this.post({ type: "hold-due" });
    }, Math.max(0, first - this.clock.now()));
  }

  private onHoldDue(): void {
    for (const jobs of this.held.releaseDue(this.clock.now())) {
      for (const job of jobs) this.options.pool.startHeld(job);
    }
    if (this.holdTimer === null) this.armHold();
    this.resolveQuietIfIdle();
  }

  // ------------------------------------------------------------------ reaping

  private onReap(): void {
    this.reapTimer = null;
    if (!this.active || this.reaping) return;
    if (!this.leaseLocallyValid()) {
      this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), this.options.reapEveryMs);
      return;
    }
    this.reaping = true;
    const now = this.clock.now();
    const live = now - this.startedAtMs <= this.options.visibilityMs ? (this.options.liveNodes?.() ?? null) : null;
    this.options.store.reap(this.shard, this.leaseToken, now, REAP_BATCH, live).then(
      (reaped) => this.post({ type: "reaped", reaped }),
      (error) => this.post({ type: "io-failed", op: "reap", error }),
    );
  }

  private onReaped(reaped: { entries: { id: string; score: string }[]; more: boolean } | LeaseLost): void {
    this.reaping = false;
    if (reaped === LEASE_LOST) {
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    if (!this.active) return;
    const decision = planAfterReap(reaped.entries, reaped.more, this.clock.now(), this.options.reapEveryMs);
    if (decision.claimUpToMs !== null) {
      this.reaped += reaped.entries.length;
      this.options.log.warn({ shard: this.shard, count: reaped.entries.length }, "reaped attempts whose worker went silent");
      this.wantClaim(decision.claimUpToMs);
    }
    this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), decision.nextReapInMs);
  }

  // ------------------------------------------------------------------ duties

  private scheduleDuty(run: DutyRun, delayMs: number): void {
    if (!this.active) return;
    run.timer = this.clock.setTimer(() => this.post({ type: "duty-step", run }), delayMs);
  }

  private onDutyStep(run: DutyRun): void {
    run.timer = null;
    if (!this.active || run.stepping) return;
    if (!this.leaseLocallyValid()) return this.scheduleDuty(run, run.duty.leaseWaitMs);
    run.stepping = true;
    const step = run.duty.plan(this.clock.now());
    run.duty.perform(step, this.options.store).then(
      (reply) => this.post({ type: "duty-done", run, step, reply }),
      (error) => this.post({ type: "duty-failed", run, error }),
    );
  }

  private onDutyDone(run: DutyRun, step: unknown, reply: unknown): void {
    run.stepping = false;
    if (!this.active) return;
    if (reply === LEASE_LOST) {
      this.options.log.warn({ shard: this.shard, token: this.leaseToken, duty: run.duty.name }, "duty refused: lease lost");
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    this.scheduleDuty(run, run.duty.settle(step, reply, this.clock.now()));
  }

  private onDutyFailed(run: DutyRun, error: unknown): void {
    run.stepping = false;
    if (!this.active) return;
    this.scheduleDuty(run, run.duty.failed(error));
  }

  // ------------------------------------------------------------------ errors and lifecycle

  private onIoFailed(op: "refill" | "claim" | "reap", error: unknown, reserved: number, fromHoldRoom: boolean): void {
    this.errorBackoffMs = Math.min(MAX_ERROR_BACKOFF_MS, Math.max(50, this.errorBackoffMs * 2));
    if (this.options.errors) this.options.errors.report(op, error, { shard: this.shard, retryInMs: this.errorBackoffMs }, "redis call failed");
    else this.options.log.warn({ shard: this.shard, op, err: String(error), retryInMs: this.errorBackoffMs }, "redis call failed");
    if (op === "refill") {
      this.refilling = false;
      this.scheduleRefill(this.errorBackoffMs);
    } else if (op === "claim") {
      this.claimsInFlight--;
      this.claimIssuedAtMs.shift();
      this.expected = FULL_BATCH;
      this.options.pool.unreserve(reserved, fromHoldRoom);
      if (this.active) {
        this.claimRetryTimer = this.clock.setTimer(() => {
          this.claimRetryTimer = null;
          this.post({ type: "capacity" });
        }, this.errorBackoffMs);
      }
    } else {
      this.reaping = false;
      if (this.active) this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), this.errorBackoffMs);
    }
    this.resolveQuietIfIdle();
  }

  private stopTimers(): void {
    this.wheel.stop();
    const timers = [this.refillTimer, this.reapTimer, this.claimRetryTimer, ...this.earlyClaimTimers.values(), ...this.duties.map((run) => run.timer)];
    for (const timer of timers) {
      if (timer !== null) this.clock.clearTimer(timer);
    }
    for (const run of this.duties) run.timer = null;
    this.earlyClaimTimers.clear();
    this.refillTimer = null;
    this.reapTimer = null;
    this.claimRetryTimer = null;
  }

  private whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.quietWaiters.push(resolve);
      this.resolveQuietIfIdle();
    });
  }

  private resolveQuietIfIdle(): void {
    if (this.state === "running" || this.claimsInFlight > 0 || this.held.count > 0) return;
    const waiters = this.quietWaiters;
    this.quietWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
