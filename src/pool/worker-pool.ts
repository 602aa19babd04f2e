/**
 * The node's one worker pool, shared by all its shards. It holds the hard
 * concurrency bound: at most `concurrency` attempts run at once. A shard
 * reserves slots before it claims, so it takes from Redis only what the
 * pool has room for, and the rest stays durable in Redis instead of in a
 * JS array. In-flight work is held in a map (strongly referenced, counted)
 * until its attempt is finished.
 *
 * With claimDepth above 1 (TICKWHEEL_CLAIM_DEPTH), claims in flight may
 * reserve claimDepth × concurrency slots, not just the free ones: a claim's
 * tasks may then find the pool full when they arrive, and wait here, in
 * claim order, for a slot; at most (claimDepth − 1) × concurrency ever do
 * (no claim is sent while any does). They are claimed in their batch, which
 * is kept alive while they wait; a crash costs them their visibility
 * deadline, after which the reaper returns them. At depth 1 (the default)
 * nothing claimed ever waits for a slot.
 *
 * Before starting, the pool asks whether the shard's lease is still valid
 * by this node's monotonic clock: a node that was frozen past its lease
 * drops what it holds unstarted (the reaper returns it, it runs elsewhere).
 *
 * Each attempt is delivered by its target's deliverer (targets/, chosen by
 * the stored target's type); what follows its outcome (succeeded, retry,
 * dead) is the outcome policy's decision (outcome-policy.ts), recorded by the
 * completer. The pool itself only holds slots and starts work.
 */
import type { Logger } from "../core/log.ts";
import type { PoolCompleter } from "./ports.ts";
import type { Job } from "./job.ts";
import { decideStart } from "./outcome-policy.ts";
import { TargetRegistry } from "./targets/registry.ts";
import type { AttemptOutcome, DeliveryContext } from "./targets/target.ts";

/**
 * A shard waiting for slots is woken when a quarter of the pool (at most one
 * claim batch) is free, or when fewer are and this long passed: the wait
 * coalesces slots freed by a burst of short tasks into one claim, and is
 * short enough not to matter when long tasks hold the pool.
 */
const LOW_CAPACITY_WAKE_MS = 2;

/**
 * claimDepth (TICKWHEEL_CLAIM_DEPTH, default 1): claims in flight, and tasks
 * claimed early and held for their due ms, may reserve this many pools' worth
 * of slots. A slot is reserved from a claim's send until its task starts; at
 * depth 1 every slot sits idle through each claim's round trip, so a burst at
 * concurrency 100 ran 100 tasks per claim round trip, one shard at a time
 * (BENCH_TRACE: "pool free 0 reserved 100 running 0"): the pool, not Redis or
 * the node's CPU, was the bound; held tasks also keep their slot until their
 * due ms (at 20,000 tasks a second a lead of 5-10 ms holds 100-200). Above 1,
 * the next claims are in Redis while the node starts the last one's tasks,
 * in claims of at most half a pool, and a claimed task that finds every slot
 * running waits here, in claim order, for a free one: at most
 * (claimDepth − 1) pools' worth, only behind long tasks, no claim sent while
 * any waits. Not the default yet: with it, a join under load in the cluster
 * tests showed tasks run twice, not yet explained (BENCHMARKS.md, issue 16).
 */
const CLAIM_SLICES = 2;

/**
 * A keepalive that came back later than this before a batch's known deadline
 * may have reached Redis after the reaper took the batch (the node's clock is
 * Redis' earliest possible time, within a fraction of a ms): such a batch's
 * waiting tasks keep their old deadline and are dropped at it.
 */
const KEEPALIVE_SLACK_MS = 50;

export interface WorkerPoolOptions {
  concurrency: number;
  /**
   * Claimed tasks held for their due ms that take no slot (TICKWHEEL_HOLD_LIMIT; 0 when absent:
   * every held task keeps the slot its claim reserved). See holdLimit.
   */
  holdLimit?: number;
  /** Pools' worth of slots claims in flight may reserve (TICKWHEEL_CLAIM_DEPTH; 1 when absent). */
  claimDepth?: number;
  /**
   * The claims' visibility timeout (ms). A claimed task that waited for a slot
   * starts only while at least half of it is left before its batch's deadline
   * (see startWaiting); absent, only a deadline already past stops it.
   */
  visibilityMs?: number;
  completer: PoolCompleter;
  log: Logger;
  /** Whether a claimed task of this shard under this token may start now. */
  canStart: (shard: number, leaseToken: string) => boolean;
  /** Stores a running task's progress value. */
  progress: (job: Job, value: unknown) => Promise<void>;
  /** Lateness (start - due, ms) of every started attempt. */
  onStart?: (job: Job, latenessMs: number) => void;
  /** How each started attempt ended (for metrics): failed attempts are "retried" or "dead". */
  onOutcome?: (job: Job, outcome: "succeeded" | "retried" | "dead") => void;
  /** Whether dispatch of this task name is paused (a cached view, refreshed by the node). */
  isPaused?: (name: string) => boolean;
  /** A claimed task of a paused name that was not started: the node parks it in Redis. */
  onPaused?: (job: Job) => void;
  /** Deliverers by target type; the in-process handler only when absent. */
  targets?: TargetRegistry;
  now?: () => number;
}

export interface PoolCounts {
  started: number;
  dropped: number;
  expired: number;
  /** Claimed tasks of a paused name handed back unstarted. */
  paused: number;
  /** Attempts this node could not deliver (no handler, no deliverer): the task waits, no attempt used. */
  unavailable: number;
}

export class WorkerPool {
  readonly concurrency: number;
  /** Pools' worth of slots claims in flight may reserve (see CLAIM_SLICES). */
  readonly claimDepth: number;
  /** Most slots one claim may reserve: the pool at depth 1, else half of it. */
  readonly claimLimit: number;
  /**
   * The hold room (TICKWHEEL_HOLD_LIMIT): claimed tasks the node may keep without a slot, held for
   * their due ms or, when every slot runs, waiting for one. While fewer than half the slots run
   * (short tasks), a claim reserves from it instead of from the slots (reserveHoldRoom), and a
   * task claimed ahead of its due ms is held in it either way. Before, a held task kept its
   * claim's slot until its due ms, and so did every claim in flight for all of its span: at 20,000
   * tasks a second a lead of 100 ms (a loaded machine's claims are slow, and the lead follows
   * them) wanted 2,000 slots, more than a pool of 64, 100 or even 1,000 has, and the pool, full of
   * tasks that were not running, let the next claims through only once their tasks were already
   * late, which made the claims slower and the lead longer (BENCH_TRACE: "pool free 0 reserved
   * 1000 running 0", p99 of seconds at the default concurrency). The bound on running attempts is
   * unchanged: a task whose due ms comes while every slot runs waits for one, as a task of
   * claimDepth does, and no claim is sent while any waits. What it costs is memory (about a
   * kilobyte per task) and, if the node dies, the reaper for the tasks it held, as for running
   * ones. 0 turns it off (every claim reserves slots, and a held task keeps its slot).
   */
  readonly holdLimit: number;
  private readonly options: WorkerPoolOptions;
  private readonly now: () => number;
  private readonly targets: TargetRegistry;
  /** Largest claim a shard asked slots for; with the pool size it sets when waiting shards wake. */
  private claimSize = 1;
  private lowCapacityTimer: ReturnType<typeof setTimeout> | null = null;
  private wakeQueued = false;
  private readonly runContext: DeliveryContext;
  private reserved = 0;
  /** Held tasks, and the hold room promised to claims in flight (see holdLimit). */
  private held = 0;
  private reservedHoldRoom = 0;
  /** id -> job for every running attempt (the strong reference). */
  private readonly running = new Map<string, Job>();
  /** Claimed tasks that found every slot running, oldest first (from waitingHead on). */
  private readonly waiting: Job[] = [];
  private waitingHead = 0;
  /** A waiting task starts only with at least this long left before its batch's deadline. */
  private readonly waitMarginMs: number;
  private readonly capacityWaiters = new Set<() => void>();
  private readonly stopController = new AbortController();
  private idleWaiters: (() => void)[] = [];
  readonly counts: PoolCounts = { started: 0, dropped: 0, expired: 0, paused: 0, unavailable: 0 };

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new Error("concurrency must be >= 1");
    this.options = options;
    this.concurrency = options.concurrency;
    this.claimDepth = options.claimDepth ?? 1;
    if (!Number.isInteger(this.claimDepth) || this.claimDepth < 1) throw new Error("claimDepth must be >= 1");
    this.holdLimit = options.holdLimit ?? 0;
    if (!Number.isInteger(this.holdLimit) || this.holdLimit < 0) throw new Error("holdLimit must be >= 0");
    this.claimLimit = this.claimDepth === 1 ? options.concurrency : Math.max(1, Math.ceil(options.concurrency / CLAIM_SLICES));
    this.waitMarginMs = (options.visibilityMs ?? 0) / 2;
    const log = options.log;
    this.runContext = {
      logFor: (job) => log.child({ taskId: job.id, task: job.spec.name, attempt: job.attempt }),
      progress: options.progress,
      stopSignal: this.stopController.signal,
    };
    this.now = options.now ?? Date.now;
    this.targets = options.targets ?? new TargetRegistry();
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Slots neither running nor promised to a claim (negative while claims in flight reach past the pool). */
  get free(): number {
    return this.concurrency - this.running.size - this.reserved - this.heldOverLimit;
  }

  /** Held tasks beyond holdLimit (a claim for due tasks may find some not due yet): each takes a slot. */
  private get heldOverLimit(): number {
    return this.held > this.holdLimit ? this.held - this.holdLimit : 0;
  }

  /** Claimed tasks held for their due ms, on every shard of this node. */
  get heldCount(): number {
    return this.held;
  }

  /** Claimed tasks waiting for a slot (see CLAIM_SLICES). */
  get waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** Slots a new claim may still reserve: none while any claimed task waits for a slot. */
  private get claimable(): number {
    if (this.waiting.length > this.waitingHead) return 0;
    return this.claimDepth * this.concurrency - this.running.size - this.reserved - this.heldOverLimit;
  }

  /** Hold room a claim may still reserve: none while any claimed task waits for a slot. */
  private get holdable(): number {
    if (this.waiting.length > this.waitingHead) return 0;
    return this.holdLimit - this.held - this.reservedHoldRoom;
  }

  get utilisation(): number {
    return this.running.size / this.concurrency;
  }

  /**
   * Takes up to `wanted` of the hold room (see holdLimit) for a claim; returns how many were
   * granted (0: none left, holds are off, or the slots are busy: reserve slots instead). The hold
   * room serves short tasks, and only while most slots are idle: then a claim sized to the free
   * slots would leave them idle for its round trip (a burst or a backlog at concurrency 64 or 100
   * ran one pool's worth per round trip, the pool and not Redis or the CPU being the bound: issue
   * 16), and held tasks that kept their slots starved the claims behind them. When long tasks
   * fill half the slots or more, claims take free slots only, as before: a backlog stays in Redis
   * for the nodes that have room, and nothing claimed waits here behind long tasks.
   */
  reserveHoldRoom(wanted: number): number {
    if (this.holdLimit === 0 || 2 * this.running.size >= this.concurrency) return 0;
    const granted = Math.max(0, Math.min(wanted, this.holdable));
    this.reservedHoldRoom += granted;
    return granted;
  }

  /** Takes up to `wanted` slots (at most claimLimit) for an upcoming claim; returns how many were granted. */
  reserve(wanted: number): number {
    if (wanted > this.claimLimit) wanted = this.claimLimit;
    if (wanted > this.claimSize) this.claimSize = wanted;
    const granted = Math.max(0, Math.min(wanted, this.claimable));
    this.reserved += granted;
    return granted;
  }

  /** Gives back reserved slots (or hold room, `fromHoldRoom`: reserveHoldRoom's) that a claim did not fill. */
  unreserve(count: number, fromHoldRoom = false): void {
    if (fromHoldRoom) {
      this.reservedHoldRoom -= count;
      if (this.reservedHoldRoom < 0) throw new Error("pool: unreserved more hold room than was reserved");
      if (count > 0) this.notifyCapacity();
      return;
    }
    this.reserved -= count;
    if (this.reserved < 0) throw new Error("pool: unreserved more slots than were reserved");
    if (count > 0) this.notifyCapacity();
  }

  /** One-shot callback for when slots free up (a shard that found the pool full). */
  whenCapacity(listener: () => void): void {
    this.capacityWaiters.add(listener);
  }

  /** Claimed batches with running attempts, grouped by shard and lease token (for visibility keepalive). */
  runningByShard(): Map<number, { token: string; batches: Set<string>; count: number }> {
    const groups = new Map<number, { token: string; batches: Set<string>; count: number }>();
    for (const job of this.runningAndWaiting()) {
      let group = groups.get(job.shard);
      if (!group) {
        group = { token: job.leaseToken, batches: new Set(), count: 0 };
        groups.set(job.shard, group);
      }
      group.batches.add(job.batch);
      group.count++;
    }
    return groups;
  }

  /** A claim of `count` tasks came back as one batch; the completer ends its bookkeeping once all have ended. */
  claimedBatch(shard: number, token: string, batch: string, count: number): void {
    this.options.completer.claimedBatch(shard, token, batch, count);
  }

  /**
   * A keepalive of these batches (shard, token) reached Redis: their deadline
   * is now `deadlineMs`. Only waiting tasks need to know (a running one is
   * covered by the keepalives while it runs); one whose known deadline was
   * already near when the answer came keeps it (the reaper may have won).
   */
  keptAlive(shard: number, token: string, batches: ReadonlySet<string>, deadlineMs: number, answeredAtMs: number): void {
    for (let i = this.waitingHead; i < this.waiting.length; i++) {
      const job = this.waiting[i]!;
      if (job.shard !== shard || job.leaseToken !== token || !batches.has(job.batch)) continue;
      const until = job.visibleUntilMs ?? Infinity;
      if (until > answeredAtMs + KEEPALIVE_SLACK_MS && deadlineMs > until) job.visibleUntilMs = deadlineMs;
    }
  }

  /** Running attempts, then the claimed tasks waiting for a slot (their batches need keeping alive too). */
  private *runningAndWaiting(): Iterable<Job> {
    yield* this.running.values();
    for (let i = this.waitingHead; i < this.waiting.length; i++) yield this.waiting[i]!;
  }

  /**
   * Starts a claimed attempt in a slot reserved for it, or, when every slot
   * runs an attempt, queues it for the next free one.
   */
  start(job: Job, fromHoldRoom = false): void {
    this.takeReserved(fromHoldRoom);
    this.startOrWait(job);
  }

  /** A claimed task is held for its due ms: it moves from its claim's reservation to the hold room. */
  hold(fromHoldRoom = false): void {
    this.takeReserved(fromHoldRoom);
    this.held++;
  }

  private takeReserved(fromHoldRoom: boolean): void {
    if (fromHoldRoom) this.reservedHoldRoom--;
    else this.reserved--;
  }

  /** A held task's due ms came: start it, or queue it for the next free slot. */
  startHeld(job: Job): void {
    this.releaseHeld();
    this.startOrWait(job);
  }

  /** A held task will not start (lease lost): the reaper returns it. */
  dropHeld(shard: number, batch: string): void {
    this.releaseHeld();
    this.options.completer.abandon(shard, batch);
    this.counts.dropped++;
  }

  private releaseHeld(): void {
    this.held--;
    if (this.held < 0) throw new Error("pool: released more held tasks than were held");
    this.notifyCapacity();
  }

  private startOrWait(job: Job): void {
    if (this.running.size >= this.concurrency) {
      this.waiting.push(job);
      return;
    }
    this.begin(job);
  }

  /**
   * Starts a claimed attempt now. A task whose lease is no longer valid is
   * dropped unstarted; an expired task is finished as such.
   */
  private begin(job: Job): void {
    if (!this.options.canStart(job.shard, job.leaseToken)) {
      this.counts.dropped++;
      this.options.completer.abandon(job.shard, job.batch);
      this.notifyCapacity();
      return;
    }
    const now = this.now();
    const decision = decideStart(job, now);
    if (decision.kind !== "start") {
      if (decision.kind === "expired") {
        this.counts.expired++;
        this.options.completer.expired(job);
      } else {
        this.options.onOutcome?.(job, "dead");
        this.options.completer.dead(job, decision.error);
      }
      this.notifyCapacity();
      return;
    }
    if (this.options.isPaused?.(job.spec.name)) {
      // Paused name: not started; the node parks it (it stays claimed in its batch until then, so a
      // failure to park only delays it to the reaper).
      this.counts.paused++;
      this.options.onPaused?.(job);
      this.notifyCapacity();
      return;
    }
    this.counts.started++;
    this.options.onStart?.(job, now - job.dueMs);
    this.run(job);
  }

  /**
   * Drops a reserved slot whose task will not start (lease lost while held).
   * The task stays running in its batch in Redis, so the reaper returns it.
   */
  drop(shard: number, batch: string, fromHoldRoom = false): void {
    this.options.completer.abandon(shard, batch);
    this.takeReserved(fromHoldRoom);
    this.counts.dropped++;
    this.notifyCapacity();
  }

  /** Resolves true when nothing runs any more, false if the deadline passed first (then aborts the rest). */
  async drain(graceMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const drained = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    if (!drained) {
      // Claimed tasks still waiting for a slot never start: the reaper returns them at their deadline.
      for (let i = this.waitingHead; i < this.waiting.length; i++) {
        const job = this.waiting[i]!;
        this.options.completer.abandon(job.shard, job.batch);
        this.counts.dropped++;
      }
      this.waiting.length = 0;
      this.waitingHead = 0;
      this.stopController.abort(new Error("node stopping: grace period over"));
    }
    return drained;
  }

  /**
   * Starts waiting tasks while slots are free (an async attempt just ended).
   * One whose batch's deadline is near is dropped instead: the reaper may
   * return it to another worker at that deadline, and a start now would then
   * run it twice (a stalled keepalive, a long wait behind slow tasks). It
   * stays claimed in its batch, so the reaper returns it and it runs once.
   */
  private startWaiting(): void {
    const now = this.now();
    while (this.waitingHead < this.waiting.length && this.running.size < this.concurrency) {
      const job = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as Job;
      if (job.visibleUntilMs !== undefined && now > job.visibleUntilMs - this.waitMarginMs) {
        this.counts.dropped++;
        this.options.completer.abandon(job.shard, job.batch);
        continue;
      }
      this.begin(job);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /**
   * Delivers an attempt through its target. A target that answers a plain
   * outcome (a handler that returned a plain value) is finished before this
   * returns; only an async one costs a promise chain (see targets/handler.ts)
   * and an entry in `running` (nothing can look at the pool while a
   * synchronous handler runs, so it never needs one).
   */
  private run(job: Job): void {
    let outcome: AttemptOutcome | Promise<AttemptOutcome>;
    const target = this.targets.forTarget(job.spec.target);
    try {
      outcome = target
        ? target.deliver(job, this.runContext)
        : { kind: "unavailable", error: `no deliverer for target type "${job.spec.target.type}" on this node` };
    } catch (error) {
      outcome = { kind: "failed", error: String(error) };
    }
    if (isPromiseLike(outcome)) {
      this.running.set(job.id, job);
      outcome.then(
        (settled) => this.ended(job, settled, true),
        (error: unknown) => this.ended(job, { kind: "failed", error: String(error) }, true),
      );
    } else {
      this.ended(job, outcome, false);
    }
  }

  private ended(job: Job, outcome: AttemptOutcome, wasRunning: boolean): void {
    // Release the slot whatever happened (a leaked slot would shrink the pool for good).
    if (wasRunning) {
      this.running.delete(job.id);
      if (this.waitingHead < this.waiting.length) this.startWaiting();
    }
    this.notifyCapacity();
    if (this.running.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
    // The completer asks the outcome policy and records its decision; metrics follow the decision.
    const decision = this.options.completer.ended(job, outcome);
    if (decision.kind === "succeeded" || decision.kind === "settled") this.options.onOutcome?.(job, "succeeded");
    else if (decision.kind === "dead") this.options.onOutcome?.(job, "dead");
    else if (decision.countsAttempt) this.options.onOutcome?.(job, "retried");
    else this.counts.unavailable++;
  }

  /**
   * Wakes the shards waiting for slots once enough are free for a claim worth
   * its round trip, or the pool is idle, or LOW_CAPACITY_WAKE_MS passed:
   * waking them for every single slot freed made each waiting shard claim
   * one task per call. The wake itself runs as a microtask, so a batch of
   * tasks that start and end synchronously frees all its slots first.
   */
  private notifyCapacity(): void {
    if (this.capacityWaiters.size === 0 || this.wakeQueued) return;
    const free = this.claimable;
    if (free <= 0) return;
    const enough = Math.max(1, Math.min(this.claimSize, Math.floor(this.concurrency / 4)));
    if (free < enough && (this.running.size > 0 || this.reserved > 0)) {
      this.lowCapacityTimer ??= setTimeout(() => {
        this.lowCapacityTimer = null;
        this.wakeWaiters();
      }, LOW_CAPACITY_WAKE_MS);
      return;
    }
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      this.wakeWaiters();
    });
  }

  private wakeWaiters(): void {
    if (this.lowCapacityTimer) clearTimeout(this.lowCapacityTimer);
    this.lowCapacityTimer = null;
    if (this.claimable <= 0 || this.capacityWaiters.size === 0) return;
    const waiters = [...this.capacityWaiters];
    this.capacityWaiters.clear();
    for (const waiter of waiters) waiter();
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === "function";
}
