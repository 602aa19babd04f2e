/**
 * Pauses: pausing and resuming a task name cluster-wide. A pause sets a flag
 * on every shard (what park checks, atomically) and then lists the name; a
 * resume unlists it, clears the flags and puts the parked tasks back.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { PARK_OFFSET } from "./data-format.ts";

/** Parked tasks put back per resume script call. */
const RESUME_CHUNK = 500;

export interface Pauses {
  pauseName(name: string, shards: ShardMap, nowMs: number): Promise<number>;
  resumeName(name: string, shards: ShardMap): Promise<{ wasPaused: boolean; requeued: number }>;
  pausedNames(): Promise<Map<string, number>>;
}

export class RedisPauses implements Pauses {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /**
   * Pauses a task name on every shard, then lists it cluster-wide (the order
   * park relies on). Idempotent; answers the ms it was first paused.
   */
  async pauseName(name: string, shards: ShardMap, nowMs: number): Promise<number> {
    await Promise.all(shards.shards().map((shard) => this.runner.run("pauseShard", [this.keyBook.pausedSet(shard)], [name])));
    return Number(await this.runner.run("pausedNames", [this.keyBook.pausedNames()], ["pause", name, nowMs]));
  }

  /**
   * Unlists a paused name, then clears every shard's flag and puts the
   * parked tasks back in `due` (bounded calls per shard). Answers whether it
   * was paused and how many tasks were put back.
   */
  async resumeName(name: string, shards: ShardMap): Promise<{ wasPaused: boolean; requeued: number }> {
    const wasPaused = (await this.runner.run("pausedNames", [this.keyBook.pausedNames()], ["resume", name, 0])) === 1;
    const publish = this.runner.publish;
    const counts = await Promise.all(
      shards.shards().map(async (shard) => {
        const keys = this.keyBook.shard(shard);
        let requeued = 0;
        for (;;) {
          const [moved, left] = (await this.runner.run(
            "resumeShard",
            [this.keyBook.pausedSet(shard), this.keyBook.parked(shard, name), keys.due, keys.tasks],
            [name, PARK_OFFSET, RESUME_CHUNK, keys.wake, publish],
          )) as [number, number];
          requeued += moved;
          if (left === 0) return requeued;
        }
      }),
    );
    return { wasPaused, requeued: counts.reduce((a, b) => a + b, 0) };
  }

  /** Paused task names and the ms each was paused. */
  async pausedNames(): Promise<Map<string, number>> {
    const flat = await this.runner.redis.hgetall(this.keyBook.pausedNames());
    return new Map(Object.entries(flat).map(([name, at]) => [name, Number(at)]));
  }
}
