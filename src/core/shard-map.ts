/**
 * The shard map: the one owner of the topology, "which shard holds this hash
 * slot". Today a shard holds the slots s with s mod count === shard, and the
 * map's epoch is 1; resizing the cluster online (a later issue) will change
 * this object (a new epoch, slots moving between shards), not its callers.
 * Pure: loaded from and written to Redis with the cluster config by the
 * store (src/store/cluster-config.ts).
 */
import { keySlot, SLOT_COUNT } from "./slot.ts";

/** Topology format of the first map: slot mod count. */
export const FIRST_SHARD_MAP_EPOCH = 1;

export class ShardMap {
  /** Number of shards: 0..count-1. */
  readonly count: number;
  /** Version of the topology; goes up when the map changes (resizing). */
  readonly epoch: number;

  constructor(count: number, epoch: number = FIRST_SHARD_MAP_EPOCH) {
    if (!Number.isInteger(count) || count < 1 || count > SLOT_COUNT) {
      throw new RangeError(`shard count must be an integer in 1..${SLOT_COUNT}, got ${count}`);
    }
    if (!Number.isInteger(epoch) || epoch < 1) throw new RangeError(`shard map epoch must be a positive integer, got ${epoch}`);
    this.count = count;
    this.epoch = epoch;
  }

  /** Shard that holds a hash slot (0..16383). */
  shardOfSlot(slot: number): number {
    return slot % this.count;
  }

  /** Shard that holds a task id (its Redis Cluster hash slot, see slot.ts). */
  shardOf(id: string): number {
    return keySlot(id) % this.count;
  }

  /** True if the slot is a valid hash slot held by the shard (a listing cursor names one). */
  holds(shard: number, slot: number): boolean {
    return Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT && this.shardOfSlot(slot) === shard;
  }

  /** The hash slots a shard holds, ascending. */
  slotsOf(shard: number): number[] {
    const slots: number[] = [];
    for (let slot = shard; slot < SLOT_COUNT; slot += this.count) slots.push(slot);
    return slots;
  }

  /** Every shard, ascending: 0..count-1. */
  shards(): number[] {
    return [...Array(this.count).keys()];
  }
}
