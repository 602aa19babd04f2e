/**
 * The resharding move, a ShardDuty: while a resize runs, the owner of a
 * source shard moves its tasks of moving slots to their new shards, one
 * bounded batch per step (store/reshard-moves.ts, protocol in
 * docs/resharding.md). It holds no progress of its own: every step reads
 * and writes the shard's progress in Redis under the lease, so whoever owns
 * the shard next (after a kill -9, a handoff) goes on from there.
 *
 * Idle (no resize, or this shard is not a source, or its part is done) it
 * looks at the node's shard map every IDLE_MS; the node reloads that map
 * from Redis (ShardMapWatch), so a resize started anywhere reaches every
 * source within about a second.
 */
import type { ShardMap } from "../core/shard-map.ts";
import type { Logger } from "../core/log.ts";
import type { LeaseLost } from "../store/outcomes.ts";
import type { MoveReport } from "../store/reshard-moves.ts";
import type { ShardDuty } from "./shard-duty.ts";

/** The store call the duty makes (RedisReshardMoves.moveStep). */
export interface ReshardMoveStore {
  moveStep(shard: number, leaseToken: string, map: ShardMap, wakeHorizonScore: number): Promise<MoveReport | LeaseLost>;
}

export interface ReshardMoverOptions {
  shard: number;
  leaseToken: string;
  log: Logger;
  moves: ReshardMoveStore;
  /** The node's current shard map. */
  shardMap: () => ShardMap;
  /** Moved tasks due within this get a wake hint at their new shard (the look-ahead). */
  wakeHorizonMs: number;
  /** Called with the tasks each step moved (metrics). */
  onMoved?: (count: number) => void;
}

/** How often an idle mover looks at the map. */
const IDLE_MS = 500;
/** Pause between two batches: a resize must not crowd out the shard's claims. */
const STEP_GAP_MS = 2;
const RETRY_MS = 500;

export interface MoveStep {
  /** The map to move by; null: nothing to do now. */
  map: ShardMap | null;
  wakeHorizonScore: number;
}

export class ReshardMover implements ShardDuty<MoveStep, MoveReport | null> {
  readonly name = "reshard move";
  readonly firstStepInMs = 0;
  readonly leaseWaitMs = 200;
  private readonly options: ReshardMoverOptions;
  /** Epoch of the resize whose part this shard finished (no need to ask Redis again). */
  private doneEpoch = 0;
  private failing = false;
  /** Phase of the last step, for stats. */
  phase: string = "idle";

  constructor(options: ReshardMoverOptions) {
    this.options = options;
  }

  plan(nowMs: number): MoveStep {
    const map = this.options.shardMap();
    const active = map.resizing && this.options.shard < map.count && map.epoch !== this.doneEpoch;
    return { map: active ? map : null, wakeHorizonScore: nowMs + this.options.wakeHorizonMs };
  }

  perform(step: MoveStep): Promise<MoveReport | LeaseLost | null> {
    if (!step.map) return Promise.resolve(null);
    return this.options.moves.moveStep(this.options.shard, this.options.leaseToken, step.map, step.wakeHorizonScore);
  }

  settle(step: MoveStep, report: MoveReport | null): number {
    this.failing = false;
    if (!report || !step.map) {
      this.phase = "idle";
      return IDLE_MS;
    }
    this.phase = report.phase;
    // The node's map is behind (a later resize runs): wait for the map watch to catch up.
    if (report.phase === "stale") return IDLE_MS;
    if (report.movedNow > 0) this.options.onMoved?.(report.movedNow);
    if (report.phase === "done") {
      this.doneEpoch = step.map.epoch;
      this.options.log.info({ shard: this.options.shard, epoch: step.map.epoch, moved: report.moved }, "resize: this shard's slots have moved");
      return IDLE_MS;
    }
    return STEP_GAP_MS;
  }

  failed(error: unknown): number {
    if (!this.failing) this.options.log.warn({ shard: this.options.shard, err: String(error) }, "resize step failed; retrying");
    this.failing = true;
    return RETRY_MS;
  }
}
