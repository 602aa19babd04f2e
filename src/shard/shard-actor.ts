/**
 * One shard's actor. It alone changes this shard's in-memory state, and only
 * while handling one message from its mailbox: timers, wake hints, pool
 * capacity and Redis replies all arrive as messages, so no two code paths
 * ever interleave on the window, the wheel or the claim bookkeeping.
 *
 * What it does:
 * - keeps the shard's look-ahead window (ids and due times only, never
 *   payloads) in a timer wheel: loaded from the due ZSET every half window,
 *   only what is new, with a periodic full reload as the safety net for lost
 *   wake hints; refills are staggered across shards so they never all hit
 *   Redis in the same millisecond (that is what caused the tail in the
 *   prototype);
 * - when the wheel says something is due (claimAheadMs early, or more: the
 *   lead grows to cover the claim round trips this shard has been seeing),
 *   claims from Redis everything due within the next claimAheadMs after it,
 *   in due order
 *   with priority breaking ties, but never more than the pool can start now
 *   (slots reserved first). Claiming a slice of time rather than one
 *   millisecond keeps a busy shard at one claim per slice instead of one per
 *   millisecond; a bucket of many tasks due at one instant is claimed
 *   BIG_BUCKET_LEAD_MS early, so its first batch is in memory at the instant;
 * - holds tasks claimed early until their exact due millisecond (one timer
 *   for the earliest), then starts them; drains a past-due backlog claim
 *   after claim at full speed;
 * - reaps attempts whose visibility deadline passed (their worker died).
 * Memory is O(tasks due within the window), capped by windowCap.
 */
import { TimerWheel, type WheelClock } from "../core/timer-wheel.ts";
import { sharedClock } from "../core/coalescing-clock.ts";
import { LatencyRecorder } from "../core/latency-histogram.ts";
import { scoreAfter } from "../task/model.ts";
import { DEFAULT_COLD_AFTER_MS } from "../config/defaults.ts";
import { LEASE_LOST, type ClaimedBatch } from "../store/outcomes.ts";
import type { AttemptStore } from "../store/attempts.ts";
import { jobFromClaim, type Job } from "../pool/job.ts";
import type { WorkerPool } from "../pool/worker-pool.ts";
import type { Logger } from "../core/log.ts";
import { ColdPromoter } from "./cold-promoter.ts";

export interface ShardActorOptions {
  shard: number;
  leaseToken: string;
  store: AttemptStore;
  pool: WorkerPool;
  log: Logger;
  lookaheadMs: number;
  claimAheadMs: number;
  /** Max tasks per claim script call. */
  claimBatch: number;
  /** Max ids held in the wheel; beyond it the window is loaded in parts. */
  windowCap: number;
  visibilityMs: number;
  reapEveryMs: number;
  /** Delay of the first periodic refill, to stagger shards. */
  refillOffsetMs: number;
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
   * The cold tier: a ColdPromoter runs beside the actor while it owns the
   * shard and moves cold tasks into `due` in time (all of them when the
   * horizon is 0, the cold tier turned off).
   */
  cold?: { shardCount: number; coldAfterMs: number };
  clock?: WheelClock;
}

export type ActorState = "new" | "running" | "quiet" | "stopped";

type Message =
  | { type: "refill" }
  | { type: "refilled"; ids: string[]; scores: string[]; toScore: number; limit: number; full: boolean; dueNow: boolean }
  /** count: keys the wheel delivered for dueMs (0 for a big bucket's early claim). */
  | { type: "due"; dueMs: number; count: number }
  | { type: "wake"; id: string; score: string }
  | { type: "capacity" }
  | { type: "claimed"; claimed: ClaimedBatch | null | typeof LEASE_LOST; reserved: number; upToMs: number }
  | { type: "hold-due" }
  | { type: "early-claim"; dueMs: number }
  | { type: "drop-bucket"; dueMs: number }
  | { type: "reap" }
  | { type: "reaped"; reaped: { entries: { id: string; score: string }[]; more: boolean } | typeof LEASE_LOST }
  | { type: "io-failed"; op: "refill" | "claim" | "reap"; error: unknown; reserved?: number };

const REAP_BATCH = 1000;
/** How soon to look again when the lease is not locally valid (a renewal or a loss settles it within a round). */
const LEASE_WAIT_MS = 50;
const MAX_ERROR_BACKOFF_MS = 1000;
/**
 * A bucket this large (tasks of this shard due in the same ms) is claimed
 * BIG_BUCKET_LEAD_MS early instead of claimAheadMs: one claim script moves
 * about a thousand tasks in 7-15 ms of Redis time on this machine, and every
 * shard's claim for that instant queues behind the others', so filling the
 * pool (5 × 1,000 at TICKWHEEL_CONCURRENCY=5000) takes 50-80 ms, and up to
 * 140 ms when the machine is busy; with 40-100 ms of lead the first task of
 * a 100,000-task burst started 10-80 ms late. The cost of a longer lead is
 * only that those tasks wait in memory (claimed, in their batch) a little longer.
 */
const BIG_BUCKET_TASKS = 256;
const BIG_BUCKET_LEAD_MS = 200;
/**
 * The wheel's lead is claimAheadMs, or more when claims have been slow: two
 * and a half times the slowest claim round trip of the last 5-10 s
 * (RTT_WINDOW_MS), capped at MAX_LEAD_MS. Round trips queue behind other
 * work in Redis and in this event loop; on a loaded machine they take
 * 5-15 ms, with a spike of 30-60 ms (a GC, a neighbour) every second or two.
 * Remembering only the last few dozen claims let the lead fall back between
 * spikes, and each spike then made that shard's tasks late. At 20,000
 * tasks/s, 1.5 times the slowest of 2-4 s still let ~1 % of tasks be
 * claimed after their due ms; 2.5 times over 5-10 s, 0.05-0.25 %. A longer
 * lead only means the tasks wait in memory, claimed, for their due ms.
 */
const RTT_WINDOW_MS = 5_000;
const MAX_LEAD_MS = 100;
/**
 * A shard may have two claims in flight: the next slice's claim goes out
 * while the last one's reply is still queued. With one, every shard waited
 * for its reply before claiming again, so all shards' claims and replies
 * moved in lockstep and Redis and the node took turns idling; at 20,000
 * tasks a second that made each round trip the sum of both sides' work.
 * Two claims never take a task twice: each is one atomic script, run in
 * order, taking what is due and still in `due`.
 */
const MAX_CLAIMS_IN_FLIGHT = 2;

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
  private readonly wheel: TimerWheel<string>;
  private state: ActorState = "new";
  private readonly mailbox: Message[] = [];
  private draining = false;
  private promoter: ColdPromoter | null = null;

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
   * What the next claim reserves pool slots for. Claims the wheel asks for
   * are sized by what the wheel holds in their span (firedPending: keys of
   * buckets already delivered for it), plus slack, so sixteen shards claiming
   * a few tasks each do not tie up a full claimBatch of slots apiece while
   * their calls are in flight. Any other claim (a backlog, a reap, a probe,
   * a claim that came back full) may find any number: full batch.
   */
  private firedPending = 0;
  private fullBatchWanted = false;
  /** Send times of the claims in flight, oldest first (replies come back in order). */
  private readonly claimIssuedAtMs: number[] = [];
  /** Slowest claim round trip of the current RTT window and of the one before. */
  private rttWindowStartMs = -Infinity;
  private slowestRttMs = 0;
  private slowestRttBeforeMs = 0;
  private readonly earlyClaimTimers = new Map<number, unknown>();
  /** Claims sent and not answered yet (at most MAX_CLAIMS_IN_FLIGHT). */
  private claimsInFlight = 0;
  private waitingForCapacity = false;
  private claimRetryTimer: unknown = null;
  private errorBackoffMs = 0;

  // claimed early, waiting for their due ms
  private readonly held = new Map<number, Job[]>();
  /** Distinct due ms of `held`, ascending; one timer is armed for the first. */
  private readonly heldDue: number[] = [];
  private holdTimer: unknown = null;
  private holdTimerAtMs = Infinity;
  private heldCount = 0;

  // reaping
  private reapTimer: unknown = null;
  private reaping = false;

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
    this.wheel = new TimerWheel<string>({
      clock: this.clock,
      leadMs: options.claimAheadMs,
      alignMs: Math.max(1, options.claimAheadMs),
      onDue: () => {},
      onDueCount: (dueMs, count) => this.post({ type: "due", dueMs, count }),
    });
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
    this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), this.options.refillOffsetMs);
    const cold = this.options.cold;
    if (cold) {
      // With the cold tier turned off (0) the promoter still runs, at the default pace, and moves
      // whatever an earlier setting left there into `due`.
      this.promoter = new ColdPromoter({
        shard: this.shard,
        shardCount: cold.shardCount,
        leaseToken: this.leaseToken,
        store: this.options.store,
        log: this.options.log,
        coldAfterMs: cold.coldAfterMs > 0 ? cold.coldAfterMs : DEFAULT_COLD_AFTER_MS,
        promoteAll: cold.coldAfterMs === 0,
        onLeaseLost: this.options.onLeaseLost,
        leaseValid: this.options.leaseValid,
      });
      this.promoter.start();
    }
  }

  /** Tasks this actor's promoter moved from the cold tier into `due`. */
  get promoted(): number {
    return this.promoter?.promoted ?? 0;
  }

  /** A wake hint from pub/sub, or a retry this node scheduled on the shard. */
  hint(id: string, score: string): void {
    this.post({ type: "wake", id, score });
  }

  /** Records a start of one of this shard's tasks (called by the node from the pool). */
  recordStart(latenessMs: number): void {
    this.fired++;
    this.lateness.record(latenessMs);
  }

  /**
   * Stops claiming, refilling and reaping. Tasks already claimed and held for
   * their due ms still start (they are at most claimAheadMs away). Resolves
   * when no claim is in flight and nothing is held.
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
    for (const jobs of this.held.values()) {
      for (const job of jobs) this.options.pool.drop(job.shard, job.batch);
    }
    this.held.clear();
    this.heldDue.length = 0;
    this.heldCount = 0;
    this.resolveQuietIfIdle();
  }

  stats(): ShardActorStats {
    return {
      shard: this.shard,
      state: this.state,
      leaseToken: this.leaseToken,
      windowSize: this.wheel.size,
      held: this.heldCount,
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
        return this.onWake(message.id, message.score);
      case "capacity":
        this.waitingForCapacity = false;
        return this.tryClaim();
      case "claimed":
        return this.onClaimed(message.claimed, message.reserved, message.upToMs);
      case "hold-due":
        return this.onHoldDue();
      case "early-claim":
        return this.onEarlyClaim(message.dueMs);
      case "drop-bucket":
        if (this.active) this.wheel.removeDue(message.dueMs);
        return;
      case "reap":
        return this.onReap();
      case "reaped":
        return this.onReaped(message.reaped);
      case "io-failed":
        return this.onIoFailed(message.op, message.error, message.reserved ?? 0);
    }
  }

  private get active(): boolean {
    return this.state === "running";
  }

  // ------------------------------------------------------------------ window

  private onRefill(): void {
    this.refillTimer = null;
    if (!this.active || this.refilling) return;
    this.refilling = true;
    const full = this.refillCount % this.options.fullReloadEvery === 0;
    const now = this.clock.now();
    // Only what is not yet due is loaded: what is due (a backlog, or a task that landed in the
    // window without a hint reaching us) is found by the probe and claimed straight from Redis in
    // due order, so a backlog of any size costs one probe, not a reload of its ids. An incremental
    // refill reads only what lies beyond the loaded window; the full reload re-reads the window.
    // Nor what a claim issued or wanted covers (a big bucket drained batch after batch, some of it
    // waiting for pool slots): its keys would only be thrown away again, and decoding 6,000 ids
    // per shard just before they were due held the event loop for ~100 ms. (A due ms's scores lie
    // in [ms, ms + 9/16]; from is exclusive, so a covered span ends at its last ms + 15/16.)
    const claimedThrough = Math.max(this.coveredUpToMs, this.claimUpToMs) + 15 / 16;
    const from = Math.max(full || this.loadedUntilScore === -Infinity ? now : Math.max(now, this.loadedUntilScore), claimedThrough);
    const toScore = now + this.options.lookaheadMs;
    const limit = Math.max(1, this.options.windowCap - (full ? 0 : this.wheel.size));
    Promise.all([
      this.options.store.dueWindow(this.shard, from, toScore, limit),
      this.options.store.dueWindow(this.shard, "-inf", now + this.options.claimAheadMs, 1),
    ]).then(
      ([window, probe]) =>
        this.post({ type: "refilled", ids: window.ids, scores: window.scores, toScore, limit, full, dueNow: (probe?.ids.length ?? 0) > 0 }),
      (error) => this.post({ type: "io-failed", op: "refill", error }),
    );
  }

  private onRefilled(message: Extract<Message, { type: "refilled" }>): void {
    this.refilling = false;
    this.refillCount++;
    this.errorBackoffMs = 0;
    if (!this.active) return;
    const now = this.clock.now();
    let pastDue = -Infinity;
    for (let i = 0; i < message.ids.length; i++) {
      const dueMs = Math.floor(Number(message.scores[i]));
      if (this.wheel.size >= this.options.windowCap) break;
      if (!this.addToWindow(message.ids[i]!, dueMs)) pastDue = Math.max(pastDue, dueMs);
    }
    const lastScore = message.scores[message.scores.length - 1];
    this.windowPartial = message.ids.length >= message.limit && lastScore !== undefined;
    this.loadedUntilScore = this.windowPartial ? Number(lastScore) : message.toScore;
    // Sized as for one task: a claim that comes back full turns into full batches (a backlog),
    // while a full batch for every probe hit would tie up the pool whenever claims run late.
    if (pastDue > -Infinity || message.dueNow) {
      this.firedPending++;
      this.raiseClaim(Math.max(pastDue, now));
    }
    this.scheduleRefill(this.windowPartial && this.wheel.size < this.options.windowCap / 2 ? 0 : this.options.lookaheadMs / 2);
  }

  private scheduleRefill(delayMs: number): void {
    if (!this.active || this.refillTimer !== null) return;
    this.refillTimer = this.clock.setTimer(() => this.post({ type: "refill" }), delayMs);
  }

  private onWake(id: string, score: string): void {
    if (!this.active) return;
    const dueMs = Math.floor(Number(score));
    if (this.addToWindow(id, dueMs)) return;
    // One known task: a claim sized for it.
    this.firedPending++;
    this.raiseClaim(Math.max(dueMs, this.clock.now()));
  }

  /**
   * Puts a task into the wheel; false when it needs claiming now instead: it
   * is due, or its due ms lies within a claim already issued, which may have
   * run before the task was stored. A task joining a bucket that just became
   * big arms that bucket's early claim.
   */
  private addToWindow(id: string, dueMs: number): boolean {
    if (dueMs <= this.coveredUpToMs) {
      this.wheel.remove(id);
      return false;
    }
    if (!this.wheel.add(id, dueMs)) return false;
    if (this.wheel.countAt(dueMs) === BIG_BUCKET_TASKS) this.armEarlyClaim(dueMs);
    return true;
  }

  private armEarlyClaim(dueMs: number): void {
    const delayMs = dueMs - BIG_BUCKET_LEAD_MS - this.clock.now();
    if (delayMs <= this.options.claimAheadMs || this.earlyClaimTimers.has(dueMs)) return;
    const timer = this.clock.setTimer(() => {
      this.earlyClaimTimers.delete(dueMs);
      this.post({ type: "early-claim", dueMs });
    }, delayMs);
    this.earlyClaimTimers.set(dueMs, timer);
  }

  // ------------------------------------------------------------------ claiming

  /**
   * The wheel's alarm (claimAheadMs before dueMs) or a big bucket's early
   * claim: claim everything due up to one more claimAheadMs after it, unless
   * a claim issued since already covers it.
   */
  private onWheelDue(dueMs: number, count: number): void {
    if (dueMs <= this.coveredUpToMs) return;
    this.firedPending += count;
    this.raiseClaim(dueMs + this.options.claimAheadMs);
  }

  /**
   * A big bucket's early claim. The claims that follow take the bucket from
   * Redis batch after batch (each one full until it is drained), so its keys
   * leave the wheel: delivering thousands of keys the wheel no longer needs
   * took the event loop tens of ms just before they were due. They are
   * dropped a few ms later, one shard per ms, so that this claim (and every
   * other shard's for the same instant) is sent first rather than after all
   * of that work.
   */
  private onEarlyClaim(dueMs: number): void {
    if (!this.active) return;
    this.fullBatchWanted = true;
    this.raiseClaim(dueMs);
    this.clock.setTimer(() => this.post({ type: "drop-bucket", dueMs }), 1 + (this.shard % 16));
  }

  /** A claim of unknown size: everything due by upToMs, however much that is. */
  private wantClaim(upToMs: number): void {
    this.fullBatchWanted = true;
    this.raiseClaim(upToMs);
  }

  private raiseClaim(upToMs: number): void {
    if (upToMs > this.claimUpToMs) this.claimUpToMs = upToMs;
    this.tryClaim();
  }

  /** Pool slots the next claim asks for (see firedPending). */
  private claimSize(upToMs: number): number {
    const batch = this.options.claimBatch;
    if (this.fullBatchWanted) return batch;
    // What is due up to coveredUpToMs is a claim in flight's. The span is at most the lead plus
    // one slice (MAX_LEAD_MS + claimAheadMs), counted ms by ms.
    const from = Math.max(this.clock.now() - 1, this.coveredUpToMs);
    const inWheel = this.wheel.countBetween(from, upToMs, MAX_LEAD_MS + 2 * this.options.claimAheadMs);
    if (inWheel === null) return batch;
    const expected = this.firedPending + inWheel;
    return Math.min(batch, expected + 8 + (expected >> 2));
  }

  private tryClaim(): void {
    if (!this.active || this.claimsInFlight >= MAX_CLAIMS_IN_FLIGHT || this.claimUpToMs === -Infinity || this.claimRetryTimer !== null) return;
    if (this.options.leaseValid && !this.options.leaseValid()) {
      this.claimRetryTimer = this.clock.setTimer(() => {
        this.claimRetryTimer = null;
        this.post({ type: "capacity" });
      }, LEASE_WAIT_MS);
      return;
    }
    const now = this.clock.now();
    const upToMs = Math.max(this.claimUpToMs, now);
    // A second claim only for what the first does not cover (a full first claim: its remainder).
    if (this.claimsInFlight > 0 && upToMs <= this.coveredUpToMs && !this.fullBatchWanted) return;
    const reserved = this.options.pool.reserve(this.claimSize(upToMs));
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
    this.firedPending = 0;
    this.fullBatchWanted = false;
    this.options.store
      .claim(this.shard, this.leaseToken, scoreAfter(upToMs), reserved, now + this.options.visibilityMs)
      .then(
        (claimed) => this.post({ type: "claimed", claimed, reserved, upToMs }),
        (error) => this.post({ type: "io-failed", op: "claim", error, reserved }),
      );
  }

  private onClaimed(claimed: ClaimedBatch | null | typeof LEASE_LOST, reserved: number, upToMs: number): void {
    this.claimsInFlight--;
    this.adaptLead(this.clock.now() - (this.claimIssuedAtMs.shift() ?? this.clock.now()));
    if (claimed === LEASE_LOST) {
      this.options.pool.unreserve(reserved);
      this.options.log.warn({ shard: this.shard, token: this.leaseToken }, "claim refused: lease lost");
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    this.errorBackoffMs = 0;
    const tasks = claimed?.tasks ?? [];
    if (this.state === "stopped") {
      // Lease lost while the claim was in flight: start none of it; the reaper returns it.
      this.options.pool.unreserve(reserved - tasks.length);
      for (let i = 0; i < tasks.length; i++) this.options.pool.drop(this.shard, claimed!.batch);
      return;
    }
    this.options.pool.unreserve(reserved - tasks.length);
    if (claimed) this.options.pool.claimedBatch(this.shard, this.leaseToken, claimed.batch, tasks.length);
    const now = this.clock.now();
    // Claimed ids are left in the wheel: one whose bucket has not fired yet fires within the
    // covered span and is ignored (onWheelDue), which is cheaper than a lookup per task here.
    for (const task of tasks) {
      const job = jobFromClaim(this.shard, this.leaseToken, claimed!.batch, task.id, task.record);
      if (job.dueMs > now) {
        this.hold(job);
      } else {
        if (job.dueMs < now) this.claimedLate++;
        this.options.pool.start(job);
      }
    }
    const more = tasks.length === reserved;
    if (more) this.fullBatchWanted = true;
    else if (this.claimUpToMs <= upToMs) this.claimUpToMs = -Infinity;
    if (this.windowPartial && this.wheel.size < this.options.windowCap / 2 && !this.refilling) {
      if (this.refillTimer !== null) this.clock.clearTimer(this.refillTimer);
      this.refillTimer = null;
      this.scheduleRefill(0);
    }
    if (this.state === "running") this.tryClaim();
    else this.resolveQuietIfIdle();
  }

  /** Sets the wheel's lead from the claim round trips seen lately (see MAX_LEAD_MS). */
  private adaptLead(rttMs: number): void {
    const now = this.clock.now();
    if (now - this.rttWindowStartMs >= RTT_WINDOW_MS) {
      this.slowestRttBeforeMs = now - this.rttWindowStartMs >= 2 * RTT_WINDOW_MS ? 0 : this.slowestRttMs;
      this.slowestRttMs = 0;
      this.rttWindowStartMs = now;
    }
    if (rttMs > this.slowestRttMs) this.slowestRttMs = rttMs;
    const slowest = Math.max(this.slowestRttMs, this.slowestRttBeforeMs);
    const lead = Math.min(MAX_LEAD_MS, Math.max(this.options.claimAheadMs, Math.ceil(slowest * 2.5)));
    if (lead !== this.wheel.leadMs && this.state === "running") this.wheel.leadMs = lead;
  }

  private hold(job: Job): void {
    let jobs = this.held.get(job.dueMs);
    if (!jobs) {
      jobs = [];
      this.held.set(job.dueMs, jobs);
      insertSorted(this.heldDue, job.dueMs);
      if (job.dueMs < this.holdTimerAtMs) this.armHold();
    }
    jobs.push(job);
    this.heldCount++;
  }

  /** (Re)arms the one hold timer for the earliest held due ms. */
  private armHold(): void {
    if (this.holdTimer !== null) this.clock.clearTimer(this.holdTimer);
    this.holdTimer = null;
    this.holdTimerAtMs = Infinity;
    const first = this.heldDue[0];
    if (first === undefined) return;
    this.holdTimerAtMs = first;
    this.holdTimer = this.clock.setTimer(() => {
      this.holdTimer = null;
      this.holdTimerAtMs = Infinity;
      this.post({ type: "hold-due" });
    }, Math.max(0, first - this.clock.now()));
  }

  private onHoldDue(): void {
    // Timers may fire a fraction of a ms early; a task never starts before its due ms.
    const now = this.clock.now();
    let due = 0;
    while (due < this.heldDue.length && this.heldDue[due]! <= now) due++;
    const starting = this.heldDue.splice(0, due);
    for (const dueMs of starting) {
      const jobs = this.held.get(dueMs)!;
      this.held.delete(dueMs);
      this.heldCount -= jobs.length;
      for (const job of jobs) this.options.pool.start(job);
    }
    if (this.holdTimer === null) this.armHold();
    this.resolveQuietIfIdle();
  }

  // ------------------------------------------------------------------ reaping

  private onReap(): void {
    this.reapTimer = null;
    if (!this.active || this.reaping) return;
    if (this.options.leaseValid && !this.options.leaseValid()) {
      this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), this.options.reapEveryMs);
      return;
    }
    this.reaping = true;
    this.options.store.reap(this.shard, this.leaseToken, this.clock.now(), REAP_BATCH).then(
      (reaped) => this.post({ type: "reaped", reaped }),
      (error) => this.post({ type: "io-failed", op: "reap", error }),
    );
  }

  private onReaped(reaped: { entries: { id: string; score: string }[]; more: boolean } | typeof LEASE_LOST): void {
    this.reaping = false;
    if (reaped === LEASE_LOST) {
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    if (!this.active) return;
    const { entries } = reaped;
    if (entries.length > 0) {
      this.reaped += entries.length;
      this.options.log.warn({ shard: this.shard, count: entries.length }, "reaped attempts whose worker went silent");
      let latest = -Infinity;
      for (const entry of entries) latest = Math.max(latest, Math.floor(Number(entry.score)));
      this.wantClaim(Math.max(latest, this.clock.now()));
    }
    const again = reaped.more ? 0 : this.options.reapEveryMs;
    this.reapTimer = this.clock.setTimer(() => this.post({ type: "reap" }), again);
  }

  // ------------------------------------------------------------------ errors and lifecycle

  private onIoFailed(op: "refill" | "claim" | "reap", error: unknown, reserved: number): void {
    this.errorBackoffMs = Math.min(MAX_ERROR_BACKOFF_MS, Math.max(50, this.errorBackoffMs * 2));
    this.options.log.warn({ shard: this.shard, op, err: String(error), retryInMs: this.errorBackoffMs }, "redis call failed");
    if (op === "refill") {
      this.refilling = false;
      this.scheduleRefill(this.errorBackoffMs);
    } else if (op === "claim") {
      this.claimsInFlight--;
      this.claimIssuedAtMs.shift();
      this.fullBatchWanted = true;
      this.options.pool.unreserve(reserved);
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
    this.promoter?.stop();
    this.wheel.stop();
    for (const timer of [this.refillTimer, this.reapTimer, this.claimRetryTimer, ...this.earlyClaimTimers.values()]) {
      if (timer !== null) this.clock.clearTimer(timer);
    }
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
    if (this.state === "running" || this.claimsInFlight > 0 || this.heldCount > 0) return;
    const waiters = this.quietWaiters;
    this.quietWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Inserts into an ascending array (held due times: a handful, mostly appended at the end). */
function insertSorted(sorted: number[], value: number): void {
  let i = sorted.length;
  while (i > 0 && sorted[i - 1]! > value) i--;
  sorted.splice(i, 0, value);
}
