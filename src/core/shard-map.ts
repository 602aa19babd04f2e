/**
 * The shard map: the one owner of the topology, "which shard holds this hash
 * slot". A stable map of `count` shards puts slot s in shard s mod count.
 * Resizing (docs/resharding.md) moves the cluster from `count` to
 * `resizingTo` shards: while it runs, a slot whose shard differs between the
 * two (a moving slot) is written to its new shard (its home), and read from
 * the new shard first and then the old one, the way a Redis Cluster client
 * follows ASK. Once every source shard has moved its slots, the map becomes
 * a stable map of `resizingTo` shards with the next epoch, remembering the
 * count before (`previousCount`): final records of tasks that finished
 * before their slot moved stay in the old shard until they expire, and
 * readers look there last.
 * Pure: loaded from and written to Redis with the cluster config by the
 * store (src/store/cluster-config.ts).
 */
import { keySlot, SLOT_COUNT } from "./slot.ts";

/** Topology format of the first map: slot mod count. */
export const FIRST_SHARD_MAP_EPOCH = 1;

export interface ShardMapHistory {
  /** A resize in progress: slots move from slot mod count to slot mod resizingTo. */
  resizingTo?: number | null;
  /** The shard count before the last completed resize (finals of moved slots may remain there). */
  previousCount?: number | null;
  /**
   * The resize is preparing: the new shards exist and get owners, but
   * writers and readers still use the old map and nothing moves yet.
   */
  preparing?: boolean;
}

function checkCount(name: string, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > SLOT_COUNT) {
    throw new RangeError(`${name} must be an integer in 1..${SLOT_COUNT}, got ${count}`);
  }
}

export class ShardMap {
  /** Number of shards of the stable map (the source count while resizing): 0..count-1. */
  readonly count: number;
  /** Version of the topology; goes up when a resize starts and again when it ends. */
  readonly epoch: number;
  /** Target shard count of the resize in progress, or null. */
  readonly resizingTo: number | null;
  /** Shard count before the last completed resize, or null. */
  readonly previousCount: number | null;
  /** True while the resize in progress is preparing (its new shards get owners first). */
  readonly preparing: boolean;
  /** Shard count of the map writers use: the target while moving. */
  private readonly home: number;

  constructor(count: number, epoch: number = FIRST_SHARD_MAP_EPOCH, history: ShardMapHistory = {}) {
    checkCount("shard count", count);
    if (!Number.isInteger(epoch) || epoch < 1) throw new RangeError(`shard map epoch must be a positive integer, got ${epoch}`);
    const resizingTo = history.resizingTo ?? null;
    const previousCount = history.previousCount ?? null;
    if (resizingTo !== null) checkCount("resize target", resizingTo);
    if (previousCount !== null) checkCount("previous shard count", previousCount);
    this.count = count;
    this.epoch = epoch;
    this.resizingTo = resizingTo === count ? null : resizingTo;
    this.previousCount = previousCount === count ? null : previousCount;
    this.preparing = this.resizingTo !== null && history.preparing === true;
    this.home = this.preparing ? count : (this.resizingTo ?? count);
  }

  /** True while slots move (a resize that has finished preparing). */
  get resizing(): boolean {
    return this.resizingTo !== null && !this.preparing;
  }

  /** Shards that exist now: 0..span-1 (both the old and the new ones while resizing or preparing). */
  get span(): number {
    return Math.max(this.count, this.resizingTo ?? this.count);
  }

  /**
   * Shards a listing reads: the span, and after a shrink also the shards of
   * the count before it, where final records (and the console's indexes of
   * them) stay until they expire.
   */
  get listSpan(): number {
    return Math.max(this.span, this.previousCount ?? 0);
  }

  /** Shard that holds a hash slot (0..16383) for writers: its new shard while resizing. */
  shardOfSlot(slot: number): number {
    return slot % this.home;
  }

  /** Shard that holds a task id for writers (its Redis Cluster hash slot, see slot.ts). */
  shardOf(id: string): number {
    return keySlot(id) % this.home;
  }

  /** The shard a slot moves out of while resizing, or null if it does not move (or no resize runs). */
  sourceOfSlot(slot: number): number | null {
    if (this.resizingTo === null || this.preparing) return null;
    const source = slot % this.count;
    return source === slot % this.resizingTo ? null : source;
  }

  /**
   * Shards a reader asks for a task id, in order: its home shard; while
   * resizing and the slot moves, then the old shard; after a resize, the
   * shard before it (final records stay there until they expire).
   */
  lookups(id: string): number[] {
    const slot = keySlot(id);
    const home = slot % this.home;
    const other = this.resizing ? slot % this.count : this.previousCount !== null ? slot % this.previousCount : home;
    return other === home ? [home] : [home, other];
  }

  /** True if the slot is a valid hash slot held by the shard (a listing cursor names one). */
  holds(shard: number, slot: number): boolean {
    return Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT && (this.shardOfSlot(slot) === shard || (this.resizing && slot % this.count === shard));
  }

  /**
   * The hash slots a shard holds, ascending: while resizing, those of the old
   * map and those of the new (the cold lists of both may hold tasks).
   */
  slotsOf(shard: number): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (slot % this.home === shard || slot % this.count === shard) slots.push(slot);
    }
    return slots;
  }

  /** Slots a source shard hands over in the resize in progress, ascending (none without a resize). */
  movingSlotsOf(source: number): number[] {
    // Also while preparing: the slots that will move, for progress reports.
    if (this.resizingTo === null || source >= this.count) return [];
    const slots: number[] = [];
    for (let slot = source; slot < SLOT_COUNT; slot += this.count) if (slot % this.resizingTo !== source) slots.push(slot);
    return slots;
  }

  /** Every shard that exists, ascending: 0..span-1. */
  shards(): number[] {
    return [...Array(this.span).keys()];
  }
}
