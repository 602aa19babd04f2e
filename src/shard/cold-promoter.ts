/**
 * Cold promotion, the first ShardDuty: moves a shard's cold tasks
 * (store/lua/lib/cold.lua) into its `due` index before they are due. Cold
 * tasks wait in one list per hash slot, in no time order, so the duty visits
 * every slot of the shard in turn: a slice of slots per step, the whole
 * shard once per third of the cold horizon, and each visit moves what falls
 * due within the horizon. A task therefore enters `due` at least two thirds
 * of the horizon before its time, long before the wheel's look-ahead reaches it.
 *
 * Right after the shard is acquired the duty sweeps every slot back to back
 * (catching up): while nobody owned the shard (all nodes down), cold tasks
 * may have come within the horizon or past their time; they run late, not never.
 *
 * The owning ShardActor runs it (see shard-duty.ts): one step in flight at a
 * time, started and stopped with the shard.
 */
import type { LeaseLost } from "../store/outcomes.ts";
import type { ShardMap } from "../core/shard-map.ts";
import type { Logger } from "../core/log.ts";
import type { ShardStore } from "./ports.ts";
import type { ShardDuty } from "./shard-duty.ts";

export interface ColdPromotionOptions {
  shard: number;
  /**
   * Which hash slots the shard holds (their cold lists are what this duty
   * sweeps); a function for a map that changes (a resize), read again at
   * the start of every sweep.
   */
  shardMap: ShardMap | (() => ShardMap);
  leaseToken: string;
  log: Logger;
  /** The cold horizon: tasks due within it belong in `due`. */
  coldAfterMs: number;
  /** Move every cold task, due or not: the cold tier was turned off and is being emptied. */
  promoteAll?: boolean;
  /** Pause between steps of the regular sweep. */
  stepMs?: number;
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

/** Slots per regular step so that every slot is visited once per third of the horizon. Pure. */
export function sliceSize(slotCount: number, stepMs: number, coldAfterMs: number): number {
  const sweepMs = Math.max(stepMs, coldAfterMs / 3);
  return Math.max(1, Math.ceil((slotCount * stepMs) / sweepMs));
}

export interface PromotionStep {
  slots: number[];
  /** Move what is due up to this score. */
  upToScore: number;
}

export type Sweep = "catching-up" | "regular";

export class ColdPromotion implements ShardDuty<PromotionStep, number> {
  readonly name = "cold promotion";
  readonly firstStepInMs = 0;
  readonly leaseWaitMs = RETRY_MS;
  private readonly options: ColdPromotionOptions;
  private slots: number[];
  private slotsEpoch: number;
  private readonly stepMs: number;
  /** Index in slots of the next step's first slot. */
  private next = 0;
  private sweep: Sweep = "catching-up";
  /** Failing since the last success: logged once per outage, not once a second per shard. */
  private failing = false;
  /** Tasks moved into `due` so far (ShardActor.promoted). */
  promoted = 0;

  constructor(options: ColdPromotionOptions) {
    this.options = options;
    const map = this.map();
    this.slots = map.slotsOf(options.shard);
    this.slotsEpoch = map.epoch;
    this.stepMs = options.stepMs ?? DEFAULT_STEP_MS;
  }

  private map(): ShardMap {
    const map = this.options.shardMap;
    return typeof map === "function" ? map() : map;
  }

  get currentSweep(): Sweep {
    return this.sweep;
  }

  plan(nowMs: number): PromotionStep {
    const size = this.sweep === "catching-up" ? CATCH_UP_SLICE : sliceSize(this.slots.length, this.stepMs, this.options.coldAfterMs);
    return {
      slots: this.slots.slice(this.next, this.next + size),
      upToScore: this.options.promoteAll ? Number.MAX_SAFE_INTEGER : nowMs + this.options.coldAfterMs,
    };
  }

  perform(step: PromotionStep, store: ShardStore): Promise<number | LeaseLost> {
    return store.promote(this.options.shard, this.options.leaseToken, step.slots, step.upToScore);
  }

  settle(step: PromotionStep, moved: number): number {
    this.failing = false;
    this.promoted += moved;
    this.next += step.slots.length;
    if (this.next >= this.slots.length) {
      this.next = 0;
      this.sweep = "regular";
      // A resize changes the shard's slots (both maps' while it runs): sweep what it holds now.
      const map = this.map();
      if (map.epoch !== this.slotsEpoch) {
        this.slots = map.slotsOf(this.options.shard);
        this.slotsEpoch = map.epoch;
      }
    }
    return this.sweep === "catching-up" ? 0 : this.stepMs;
  }

  failed(error: unknown): number {
    if (!this.failing) this.options.log.warn({ shard: this.options.shard, err: String(error) }, "cold promotion failed; retrying every second");
    this.failing = true;
    return RETRY_MS;
  }
}
