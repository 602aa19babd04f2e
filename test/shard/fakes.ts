/**
 * In-memory fakes of what a ShardActor talks to (src/shard/ports.ts), for
 * unit tests on the fake wheel clock: no Redis, no sleeps. FakeShardStore
 * keeps one shard's due set with the semantics the actor relies on (claim
 * takes what is due before a score, in score order, up to a limit, into a
 * batch with a visibility deadline; reap puts batches past their deadline
 * back; both answer LEASE_LOST once the lease is gone); replies resolve at
 * once, so a test settles microtasks after moving the clock. FakeShardPool
 * counts slots as the pool does (reserved or running) and records starts.
 */
import { LEASE_LOST, type ClaimedBatch, type LeaseLost } from "../../src/store/outcomes.ts";
import { encodeRecord } from "../../src/task/codec.ts";
import type { Job } from "../../src/pool/job.ts";
import type { WindowRead } from "../../src/store/attempts.ts";
import type { ShardPool, ShardStore } from "../../src/shard/ports.ts";
import type { FakeWheelClock } from "../core/fake-wheel-clock.ts";

const SPEC_JSON = `{"n":"unit.task","c":0}`;

export interface StoreCall {
  op: "claim" | "reap" | "window" | "promote";
  atMs: number;
  args: unknown[];
}

interface Batch {
  batch: string;
  ids: string[];
  deadlineMs: number;
}

export class FakeShardStore implements ShardStore {
  /** id → score of what waits in `due`. */
  readonly due = new Map<string, number>();
  /** id → score of what waits in the cold tier, with its hash slot. */
  readonly cold = new Map<string, { score: number; slot: number }>();
  private readonly scores = new Map<string, number>();
  private readonly batches: Batch[] = [];
  private batchSeq = 0;
  readonly calls: StoreCall[] = [];
  /** The lease is gone: claim, reap and promote answer LEASE_LOST. */
  leaseLost = false;
  /** A claim runs when called but its reply arrives this many ms later (a slow round trip). */
  claimDelayMs = 0;
  /** Replies reap gives instead of its own answer, first one first. */
  readonly reapReplies: { entries: { id: string; score: string }[]; more: boolean }[] = [];

  constructor(private readonly clock: FakeWheelClock) {}

  add(id: string, dueMs: number): void {
    this.due.set(id, dueMs);
    this.scores.set(id, dueMs);
  }

  callsOf(op: StoreCall["op"]): StoreCall[] {
    return this.calls.filter((call) => call.op === op);
  }

  /** A claimed task ended: its batch no longer holds it. */
  finish(id: string): void {
    for (const batch of this.batches) {
      const i = batch.ids.indexOf(id);
      if (i >= 0) batch.ids.splice(i, 1);
    }
  }

  async claim(shard: number, token: string, upToScoreExclusive: number, limit: number, visibilityDeadlineMs: number): Promise<ClaimedBatch | null | LeaseLost> {
    this.calls.push({ op: "claim", atMs: this.clock.now(), args: [shard, token, upToScoreExclusive, limit, visibilityDeadlineMs] });
    if (this.leaseLost) return LEASE_LOST;
    const taken = [...this.due].filter(([, score]) => score < upToScoreExclusive).sort((a, b) => a[1] - b[1]).slice(0, limit);
    if (taken.length === 0) {
      if (this.claimDelayMs > 0) await new Promise<void>((resolve) => this.clock.setTimer(() => resolve(), this.claimDelayMs));
      return null;
    }
    const batch = `b${++this.batchSeq}`;
    for (const [id] of taken) this.due.delete(id);
    this.batches.push({ batch, ids: taken.map(([id]) => id), deadlineMs: visibilityDeadlineMs });
    if (this.claimDelayMs > 0) await new Promise<void>((resolve) => this.clock.setTimer(() => resolve(), this.claimDelayMs));
    return { batch, tasks: taken.map(([id, score]) => ({ id, record: encodeRecord(0, String(score), SPEC_JSON) })) };
  }

  async reap(shard: number, token: string, nowMs: number, limit: number): Promise<{ entries: { id: string; score: string }[]; more: boolean } | LeaseLost> {
    this.calls.push({ op: "reap", atMs: this.clock.now(), args: [shard, token, nowMs, limit] });
    if (this.leaseLost) return LEASE_LOST;
    const forced = this.reapReplies.shift();
    if (forced) return forced;
    const entries: { id: string; score: string }[] = [];
    for (const batch of this.batches) {
      if (batch.deadlineMs > nowMs) continue;
      for (const id of batch.ids.splice(0)) {
        const score = this.scores.get(id)!;
        this.due.set(id, score);
        entries.push({ id, score: String(score) });
      }
    }
    return { entries, more: false };
  }

  async window(shard: number, fromScoreExclusive: number | "-inf", toScoreInclusive: number, limit: number, probeToScore: number): Promise<WindowRead> {
    this.calls.push({ op: "window", atMs: this.clock.now(), args: [shard, fromScoreExclusive, toScoreInclusive, limit, probeToScore] });
    const from = fromScoreExclusive === "-inf" ? -Infinity : fromScoreExclusive;
    const inRange = [...this.due].filter(([, score]) => score > from && score <= toScoreInclusive).sort((a, b) => a[1] - b[1]).slice(0, limit);
    const counts: number[] = [];
    for (const [, score] of inRange) {
      const ms = Math.floor(score);
      if (counts.length > 0 && counts[counts.length - 2] === ms) counts[counts.length - 1]!++;
      else counts.push(ms, 1);
    }
    const last = inRange[inRange.length - 1];
    return {
      counts,
      tasksRead: inRange.length,
      lastScore: last === undefined ? undefined : String(last[1]),
      dueNow: [...this.due.values()].some((score) => score <= probeToScore),
    };
  }

  async promote(shard: number, token: string, slots: number[], upToScore: number): Promise<number | LeaseLost> {
    this.calls.push({ op: "promote", atMs: this.clock.now(), args: [shard, token, slots, upToScore] });
    if (this.leaseLost) return LEASE_LOST;
    const wanted = new Set(slots);
    let moved = 0;
    for (const [id, entry] of this.cold) {
      if (!wanted.has(entry.slot) || entry.score > upToScore) continue;
      this.cold.delete(id);
      this.add(id, entry.score);
      moved++;
    }
    return moved;
  }
}

export class FakeShardPool implements ShardPool {
  /** Slots reserved or running. */
  used = 0;
  readonly started: { id: string; atMs: number; dueMs: number }[] = [];
  readonly reserves: { wanted: number; got: number; atMs: number }[] = [];
  dropped = 0;
  private listeners: (() => void)[] = [];

  constructor(
    private readonly clock: FakeWheelClock,
    public capacity: number,
  ) {}

  get free(): number {
    return this.capacity - this.used;
  }

  reserve(wanted: number): number {
    const got = Math.max(0, Math.min(wanted, this.free));
    this.used += got;
    this.reserves.push({ wanted, got, atMs: this.clock.now() });
    return got;
  }

  unreserve(count: number): void {
    this.used -= count;
  }

  /** No hold room here: every claim reserves slots. */
  reserveHoldRoom(): number {
    return 0;
  }

  whenCapacity(listener: () => void): void {
    this.listeners.push(listener);
  }

  claimedBatch(): void {}

  start(job: Job): void {
    this.started.push({ id: job.id, atMs: this.clock.now(), dueMs: job.dueMs });
  }

  drop(): void {
    this.used--;
    this.dropped++;
  }

  /** Held tasks keep their slot here (a pool with a hold limit of 0). */
  hold(): void {}

  startHeld(job: Job): void {
    this.start(job);
  }

  dropHeld(): void {
    this.drop();
  }

  /** Tasks ended: their slots free up and capacity waiters are told. */
  finish(count: number): void {
    this.used -= count;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

/** Lets the store's already-resolved replies reach the actor's mailbox (no time passes). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Runs the timers due now, and those the settled replies arm for now, until none is left. */
export async function drainNow(clock: FakeWheelClock): Promise<void> {
  for (let rounds = 0; rounds < 10_000; rounds++) {
    const fired = clock.fired;
    clock.runDue();
    await settle();
    if (clock.fired === fired) return;
  }
}

/**
 * Moves the fake clock ms by ms, as Redis answering within the ms would: each ms's timers run,
 * their replies settle, and timers those armed for the same ms (a reap or a claim again at once)
 * run before time moves on.
 */
export async function run(clock: FakeWheelClock, ms: number): Promise<void> {
  await drainNow(clock);
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await settle();
    await drainNow(clock);
  }
}
