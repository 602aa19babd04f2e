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
 * - when the wheel says something is due (a few ms early), claims from Redis
 *   everything due by then, in due order with priority breaking ties, but
 *   never more than the pool can start now (slots reserved first);
 * - holds tasks claimed early until their exact due millisecond, then starts
 *   them; drains a past-due backlog claim after claim at full speed;
 * - reaps attempts whose visibility deadline passed (their worker died).
 * Memory is O(tasks due within the window), capped by windowCap.
 */
import { TimerWheel, realWheelClock, type WheelClock } from "../core/timer-wheel.ts";
import { LatencyRecorder } from "../core/latency-histogram.ts";
import { scoreAfter } from "../task/model.ts";
import { LEASE_LOST, type ClaimedTask, type Store } from "../store/store.ts";
import { jobFromClaim, type Job } from "../pool/job.ts";
import type { WorkerPool } from "../pool/worker-pool.ts";
import type { Logger } from "../node/log.ts";

export interface ShardActorOptions {
  shard: number;
  leaseToken: string;
  store: Store;
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
  clock?: WheelClock;
}

export type ActorState = "new" | "running" | "quiet" | "stopped";

type Message =
  | { type: "refill" }
  | { type: "refilled"; ids: string[]; scores: string[]; toScore: number; limit: number; full: boolean; dueNow: boolean }
  | { type: "due"; dueMs: number }
  | { type: "wake"; id: string; score: string }
  | { type: "capacity" }
  | { type: "claimed"; tasks: ClaimedTask[] | typeof LEASE_LOST; reserved: number; upToMs: number }
  | { type: "hold-due"; dueMs: number }
  | { type: "reap" }
  | { type: "reaped"; entries: { id: string; score: string }[] | typeof LEASE_LOST }
  | { type: "io-failed"; op: "refill" | "claim" | "reap"; error: unknown; reserved?: number };

const REAP_BATCH = 1000;
const MAX_ERROR_BACKOFF_MS = 1000;

export interface ShardActorStats {
  shard: number;
  state: ActorState;
  leaseToken: string;
  windowSize: number;
  held: number;
  fired: number;
  reaped: number;
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

  // window
  private loadedUntilScore = -Infinity;
  private windowPartial = false;
  private refilling = false;
  private refillCount = 0;
  private refillTimer: unknown = null;

  // claiming
  /** Highest due ms known to need claiming; -Infinity when nothing is wanted. */
  private claimUpToMs = -Infinity;
  private claiming = false;
  private waitingForCapacity = false;
  private claimRetryTimer: unknown = null;
  private errorBackoffMs = 0;

  // claimed early, waiting for their due ms
  private readonly held = new Map<number, Job[]>();
  private readonly holdTimers = new Map<number, unknown>();
  private heldCount = 0;

  // reaping
  private reapTimer: unknown = null;
  private reaping = false;

  private quietWaiters: (() => void)[] = [];
  readonly lateness = new LatencyRecorder();
  private fired = 0;
  private reaped = 0;

  constructor(options: ShardActorOptions) {
    this.options = options;
    this.shard = options.shard;
    this.leaseToken = options.leaseToken;
    this.clock = options.clock ?? realWheelClock;
    this.wheel = new TimerWheel<string>({
      clock: this.clock,
      leadMs: options.claimAheadMs,
      onDue: (dueMs) => this.post({ type: "due", dueMs }),
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
    for (const [dueMs, jobs] of this.held) {
      this.clock.clearTimer(this.holdTimers.get(dueMs));
      for (let i = 0; i < jobs.length; i++) this.options.pool.drop();
    }
    this.held.clear();
    this.holdTimers.clear();
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
        return this.wantClaim(message.dueMs);
      case "wake":
        return this.onWake(message.id, message.score);
      case "capacity":
        this.waitingForCapacity = false;
        return this.tryClaim();
      case "claimed":
        return this.onClaimed(message.tasks, message.reserved, message.upToMs);
      case "hold-due":
        return this.onHoldDue(message.dueMs);
      case "reap":
        return this.onReap();
      case "reaped":
        return this.onReaped(message.entries);
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
    const from = full ? "-inf" : this.loadedUntilScore === -Infinity ? "-inf" : this.loadedUntilScore;
    const toScore = this.clock.now() + this.options.lookaheadMs;
    const limit = Math.max(1, this.options.windowCap - (full ? 0 : this.wheel.size));
    // An incremental refill only reads what lies beyond the loaded window. A task that landed inside
    // it without a hint reaching us (subscriber reconnecting) is caught by the probe for anything
    // already due, and otherwise by the next full reload.
    const now = this.clock.now();
    Promise.all([
      this.options.store.dueWindow(this.shard, from, toScore, limit),
      full ? Promise.resolve(null) : this.options.store.dueWindow(this.shard, "-inf", now + this.options.claimAheadMs, 1),
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
      if (!this.wheel.add(message.ids[i]!, dueMs)) pastDue = Math.max(pastDue, dueMs);
    }
    const lastScore = message.scores[message.scores.length - 1];
    this.windowPartial = message.ids.length >= message.limit && lastScore !== undefined;
    this.loadedUntilScore = this.windowPartial ? Number(lastScore) : message.toScore;
    if (pastDue > -Infinity || message.dueNow) this.wantClaim(Math.max(pastDue, now));
    this.scheduleRefill(this.windowPartial && this.wheel.size < this.options.windowCap / 2 ? 0 : this.options.lookaheadMs / 2);
  }

  private scheduleRefill(delayMs: number): void {
    if (!this.active || this.refillTimer !== null) return;
    this.refillTimer = this.clock.setTimer(() => this.post({ type: "refill" }), delayMs);
  }

  private onWake(id: string, score: string): void {
    if (!this.active) return;
    const dueMs = Math.floor(Number(score));
    if (!this.wheel.add(id, dueMs)) this.wantClaim(dueMs);
  }

  // ------------------------------------------------------------------ claiming

  private wantClaim(upToMs: number): void {
    if (upToMs > this.claimUpToMs) this.claimUpToMs = upToMs;
    this.tryClaim();
  }

  private tryClaim(): void {
    if (!this.active || this.claiming || this.claimUpToMs === -Infinity || this.claimRetryTimer !== null) return;
    const reserved = this.options.pool.reserve(this.options.claimBatch);
    if (reserved === 0) {
      if (!this.waitingForCapacity) {
        this.waitingForCapacity = true;
        this.options.pool.whenCapacity(() => this.post({ type: "capacity" }));
      }
      return;
    }
    this.claiming = true;
    const now = this.clock.now();
    const upToMs = Math.max(this.claimUpToMs, now);
    this.options.store
      .claim(this.shard, this.leaseToken, scoreAfter(upToMs), reserved, now + this.options.visibilityMs)
      .then(
        (tasks) => this.post({ type: "claimed", tasks, reserved, upToMs }),
        (error) => this.post({ type: "io-failed", op: "claim", error, reserved }),
      );
  }

  private onClaimed(tasks: ClaimedTask[] | typeof LEASE_LOST, reserved: number, upToMs: number): void {
    this.claiming = false;
    if (tasks === LEASE_LOST) {
      this.options.pool.unreserve(reserved);
      this.options.log.warn({ shard: this.shard, token: this.leaseToken }, "claim refused: lease lost");
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    this.errorBackoffMs = 0;
    if (this.state === "stopped") {
      // Lease lost while the claim was in flight: start none of it; the reaper returns it.
      this.options.pool.unreserve(reserved - tasks.length);
      for (let i = 0; i < tasks.length; i++) this.options.pool.drop();
      return;
    }
    this.options.pool.unreserve(reserved - tasks.length);
    const now = this.clock.now();
    for (const task of tasks) {
      this.wheel.remove(task.id);
      const job = jobFromClaim(this.shard, this.leaseToken, task.id, task.record);
      if (job.dueMs > now) this.hold(job);
      else this.options.pool.start(job);
    }
    const more = tasks.length === reserved;
    if (!more && this.claimUpToMs <= upToMs) this.claimUpToMs = -Infinity;
    if (this.windowPartial && this.wheel.size < this.options.windowCap / 2 && !this.refilling) {
      if (this.refillTimer !== null) this.clock.clearTimer(this.refillTimer);
      this.refillTimer = null;
      this.scheduleRefill(0);
    }
    if (this.state === "running") this.tryClaim();
    else this.resolveQuietIfIdle();
  }

  private hold(job: Job): void {
    let jobs = this.held.get(job.dueMs);
    if (!jobs) {
      jobs = [];
      this.held.set(job.dueMs, jobs);
      this.armHold(job.dueMs);
    }
    jobs.push(job);
    this.heldCount++;
  }

  private armHold(dueMs: number): void {
    const delay = Math.max(0, dueMs - this.clock.now());
    this.holdTimers.set(dueMs, this.clock.setTimer(() => this.post({ type: "hold-due", dueMs }), delay));
  }

  private onHoldDue(dueMs: number): void {
    const jobs = this.held.get(dueMs);
    if (!jobs) return;
    // Timers may fire a fraction of a ms early; a task never starts before its due ms.
    if (this.clock.now() < dueMs) return this.armHold(dueMs);
    this.held.delete(dueMs);
    this.holdTimers.delete(dueMs);
    this.heldCount -= jobs.length;
    for (const job of jobs) this.options.pool.start(job);
    this.resolveQuietIfIdle();
  }

  // ------------------------------------------------------------------ reaping

  private onReap(): void {
    this.reapTimer = null;
    if (!this.active || this.reaping) return;
    this.reaping = true;
    this.options.store.reap(this.shard, this.leaseToken, this.clock.now(), REAP_BATCH).then(
      (entries) => this.post({ type: "reaped", entries }),
      (error) => this.post({ type: "io-failed", op: "reap", error }),
    );
  }

  private onReaped(entries: { id: string; score: string }[] | typeof LEASE_LOST): void {
    this.reaping = false;
    if (entries === LEASE_LOST) {
      this.stop();
      this.options.onLeaseLost(this.shard, this.leaseToken);
      return;
    }
    if (!this.active) return;
    if (entries.length > 0) {
      this.reaped += entries.length;
      this.options.log.warn({ shard: this.shard, count: entries.length }, "reaped attempts whose worker went silent");
      let latest = -Infinity;
      for (const entry of entries) latest = Math.max(latest, Math.floor(Number(entry.score)));
      this.wantClaim(Math.max(latest, this.clock.now()));
    }
    const again = entries.length >= REAP_BATCH ? 0 : this.options.reapEveryMs;
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
      this.claiming = false;
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
    this.wheel.stop();
    for (const timer of [this.refillTimer, this.reapTimer, this.claimRetryTimer]) {
      if (timer !== null) this.clock.clearTimer(timer);
    }
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
    if (this.state === "running" || this.claiming || this.heldCount > 0) return;
    const waiters = this.quietWaiters;
    this.quietWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
