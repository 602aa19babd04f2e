/**
 * Shard map watch: keeps a node's shard map current while resizes come and
 * go, one small loop (start / stop / one exec step). Every step reads the map
 * from the cluster config; a newer epoch is handed to the node (its leases,
 * actors and movers follow). While a resize prepares it checks that every
 * shard, old and new, is leased, and then moves the resize on to moving
 * slots (writers switch to the new shards only once those have owners, so
 * a task due soon never waits for a lease). While it moves it reads every source
 * shard's progress, and once all report their slots moved, finishes the
 * resize (a compare-and-set on the epoch: of all the nodes that see it
 * first, one writes). No leader: any node can finish, and the finish is
 * idempotent.
 */
import type { ShardMap } from "../core/shard-map.ts";
import type { Logger } from "../core/log.ts";
import type { SourceProgress } from "../store/reshard-moves.ts";

export interface ShardMapWatchStore {
  shardMap(): Promise<ShardMap>;
  progress(map: ShardMap): Promise<SourceProgress[]>;
  finishResize(epoch: number, nowMs: number): Promise<boolean>;
  /** A preparing resize starts moving (resize-move-1.lua). */
  beginMoves(epoch: number): Promise<boolean>;
  /** Whether a shard's lease is held by some node. */
  leased(shard: number): Promise<boolean>;
}

export interface ShardMapWatchOptions {
  store: ShardMapWatchStore;
  log: Logger;
  /** The map in use. */
  current(): ShardMap;
  /** A newer map was read. */
  onMap(map: ShardMap): void;
  everyMs: number;
}

export class ShardMapWatch {
  private readonly options: ShardMapWatchOptions;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private failing = false;
  /** Slots moved and total of the running resize, as last read. */
  slotsMoved = 0;
  slotsTotal = 0;

  constructor(options: ShardMapWatchOptions) {
    this.options = options;
  }

  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One round: read the map, take a newer one, finish a resize whose sources are all done. */
  async exec(): Promise<void> {
    const { store, log } = this.options;
    let map = await store.shardMap();
    if (map.epoch > this.options.current().epoch) this.take(map);
    if (map.preparing) {
      const leased = await Promise.all(map.shards().map((shard) => store.leased(shard)));
      if (leased.every(Boolean) && (await store.beginMoves(map.epoch))) {
        log.info({ from: map.count, to: map.resizingTo, epoch: map.epoch + 1 }, "resize: every shard has an owner; slots start moving");
      }
      return;
    }
    if (!map.resizing) {
      this.slotsMoved = 0;
      this.slotsTotal = 0;
      return;
    }
    const progress = await store.progress(map);
    let moved = 0;
    let total = 0;
    for (const source of progress) {
      const slots = map.movingSlotsOf(source.shard).length;
      total += slots;
      if (source.phase === "done") moved += slots;
    }
    this.slotsMoved = moved;
    this.slotsTotal = total;
    if (progress.every((source) => source.phase === "done")) {
      if (await store.finishResize(map.epoch, Date.now())) {
        log.info({ from: map.count, to: map.resizingTo, epoch: map.epoch + 1 }, "resize finished: every slot has moved");
      }
      map = await store.shardMap();
      if (map.epoch > this.options.current().epoch) this.take(map);
    }
  }

  private take(map: ShardMap): void {
    this.options.log.info({ epoch: map.epoch, count: map.count, resizingTo: map.resizingTo }, "shard map changed");
    this.options.onMap(map);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.exec().then(
        () => {
          this.failing = false;
        },
        (error) => {
          if (!this.failing) this.options.log.warn({ err: String(error) }, "could not read the shard map; retrying");
          this.failing = true;
        },
      ).finally(() => this.arm());
    }, this.options.everyMs);
  }
}
