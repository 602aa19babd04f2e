/**
 * Moves a shard's cold tasks (store/lua/lib/cold.lua) into its `due` index
 * before they are due. Cold tasks wait in one list per hash slot, in no time
 * order, so the promoter visits every slot of the shard in turn: a slice of
 * slots per step, the whole shard once per third of the cold horizon, and
 * each visit moves what falls due within the horizon. A task therefore enters
 * `due` at least two thirds of the horizon before its time, long before the
 * wheel's look-ahead reaches it.
 *
 * Right after the shard is acquired the promoter sweeps every slot back to
 * back: while nobody owned the shard (all nodes down), cold tasks may have
 * come within the horizon or past their time; they run late, not never.
 *
 * One call in flight at a time; state lives in this object alone, and the
 * owning ShardActor starts and stops it with the shard.
 */
import { LEASE_LOST } from "../store/outcomes.ts";
import type { AttemptStore } from "../store/attempts.ts";
import { SLOT_COUNT } from "../core/slot.ts";
import type { Logger } from "../core/log.ts";

export interface ColdPromoterOptions {
  shard: number;
  shardCount: number;
  leaseToken: string;
  store: AttemptStore;
  log: Logger;
  /** The cold horizon: tasks due within it belong in `due`. */
  coldAfterMs: number;
  /** Move every cold task, due or not: the cold tier was turned off and is being emptied. */
  promoteAll?: boolean;
  /** Pause between steps of the regular sweep. */
  stepMs?: number;
  onLeaseLost: (shard: number, leaseToken: string) => void;
  /** Whether the node may still act on the shard (ShardOwnership.canStart). */
  leaseValid?: () => boolean;
  now?: () => number;
}

/**
 * Slots per call while catching up after acquiring a shard. Every entry of a
 * slot's list is read to find the due ones: at a million cold tasks (~60 per
 * list) 32 slots are ~3-4 ms of Redis (64 measured 7 ms), short enough not to
 * hold up the claims queued behind the call for long.
 */
const CATCH_UP_SLICE = 32;
const DEFAULT_STEP_MS = 1_000;
const RETRY_MS = 1_000;

/** The hash slots whose keys belong to a shard: slot % shardCount === shard. Pure. */
export function slotsOfShard(shard: number, shardCount: number): number[] {
  const slots: number[] = [];
  for (let slot = shard; slot < SLOT_COUNT; slot += shardCount) slots.push(slot);
  return slots;
}

/** Slots per regular step so that every slot is visited once per third of the horizon. Pure. */
export function sliceSize(slotCount: number, stepMs: number, coldAfterMs: number): number {
  const sweepMs = Math.max(stepMs, coldAfterMs / 3);
  return Math.max(1, Math.ceil((slotCount * stepMs) / sweepMs));
}

export class ColdPromoter {
  private readonly options: ColdPromoterOptions;
  private readonly slots: number[];
  private readonly stepMs: number;
  private readonly now: () => number;
  private next = 0;
  private catchingUp = true;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failing = false;
  /** Tasks moved into `due` so far (ShardActor.promoted). */
  promoted = 0;

  constructor(options: ColdPromoterOptions) {
    this.options = options;
    this.slots = slotsOfShard(options.shard, options.shardCount);
    this.stepMs = options.stepMs ?? DEFAULT_STEP_MS;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.step(), delayMs);
  }

  private async step(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    if (this.options.leaseValid && !this.options.leaseValid()) return this.schedule(RETRY_MS);
    const size = this.catchingUp ? CATCH_UP_SLICE : sliceSize(this.slots.length, this.stepMs, this.options.coldAfterMs);
    const batch = this.slots.slice(this.next, this.next + size);
    let moved: number | typeof LEASE_LOST;
    try {
      const upTo = this.options.promoteAll ? Number.MAX_SAFE_INTEGER : this.now() + this.options.coldAfterMs;
      moved = await this.options.store.promote(this.options.shard, this.options.leaseToken, batch, upTo);
    } catch (error) {
      // Once per outage, not once a second per shard.
      if (!this.failing) this.options.log.warn({ shard: this.options.shard, err: String(error) }, "cold promotion failed; retrying every second");
      this.failing = true;
      return this.schedule(RETRY_MS);
    }
    this.failing = false;
    if (this.stopped) return;
    if (moved === LEASE_LOST) {
      this.stop();
      this.options.onLeaseLost(this.options.shard, this.options.leaseToken);
      return;
    }
    this.promoted += moved;
    this.next += batch.length;
    if (this.next >= this.slots.length) {
      this.next = 0;
      this.catchingUp = false;
    }
    this.schedule(this.catchingUp ? 0 : this.stepMs);
  }
}
