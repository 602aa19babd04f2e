/**
 * Reshard moves: one source shard's part of a resize (docs/resharding.md),
 * a bounded batch per call. The shard's owner calls moveStep under its
 * lease (the ReshardMover duty); every step's progress is in the shard's
 * `reshard` hash and its `outbox`, so a new owner after a crash resumes
 * where the last one stopped. Phases, in this order (each one's reason is
 * in the docs): cold (the moving slots' cold lists), schedules (recurring
 * schedules of moving slots), tasks (pending tasks, pass after pass until a
 * pass finds no task of a moving slot, running ones included), dead (dead
 * tasks with their final record), sweep (one more pass over the schedules:
 * a producer whose map was a second old may have written one after the
 * schedules phase; if it finds one, back to tasks for its occurrences), done.
 *
 * A batch is taken out of the source into its outbox (one script on the
 * source's keys), landed in each destination (one script per destination
 * shard, which refuses an id it already has) and cleared from the outbox
 * (one script on the source): one shard's keys per script, so it runs the
 * same on Redis Cluster.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { keySlot } from "../core/slot.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { LEASE_LOST, type LeaseLost } from "./outcomes.ts";

export type MovePhase = "cold" | "schedules" | "tasks" | "dead" | "sweep" | "done";

/** Ids a scan asks for per step (HSCAN / ZSCAN COUNT): a batch stays a few ms of Redis. */
const SCAN_COUNT = 300;
/** Cold list elements per step (an element holds the tasks of one schedule call in that slot). */
const COLD_ELEMENTS = 32;
/** Slots whose cold lists one step visits (most are empty: a list read costs next to nothing then). */
const COLD_SLOTS = 128;

/** The shard's progress belongs to a later resize than the caller's map (reshard-state-3.lua). */
const STALE = "stale" as const;

export interface MoveReport {
  /** "stale": the caller's map is behind the shard's progress; it moved nothing. */
  phase: MovePhase | "stale";
  /** Tasks this shard has moved in this resize so far. */
  moved: number;
  /** Tasks this step moved. */
  movedNow: number;
}

export interface SourceProgress {
  shard: number;
  /** Null: this shard has not started its part of the running resize. */
  phase: MovePhase | null;
  moved: number;
}

interface MoveState {
  phase: MovePhase;
  cursor: string;
  slotIndex: number;
  moved: number;
  passMoving: number;
}

export class RedisReshardMoves {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /**
   * One bounded step of a source shard's move in the resize of `map` (which
   * must be resizing). wakeHorizonScore: destinations send a wake hint for
   * moved tasks due by then, so their owner loads them at once.
   */
  async moveStep(shard: number, leaseToken: string, map: ShardMap, wakeHorizonScore: number): Promise<MoveReport | LeaseLost> {
    const to = map.resizingTo;
    if (to === null) throw new Error("moveStep needs a shard map that is resizing");
    const keys = this.keyBook.shard(shard);
    const state = await this.state(shard, leaseToken, map.epoch, []);
    if (state === LEASE_LOST) return LEASE_LOST;
    // This node's map is behind the shard's progress (a later resize runs): nothing to do by it.
    if (state === STALE) return { phase: "stale", moved: 0, movedNow: 0 };
    // Resume first: what an earlier step (maybe another owner's, before a crash) took out lands now.
    const pending = await this.runner.redis.hgetall(keys.outbox);
    const pendingIds = Object.keys(pending);
    if (pendingIds.length > 0) {
      const landed = await this.land(shard, leaseToken, pendingIds.map((id) => [id, pending[id]!] as [string, string]), wakeHorizonScore);
      if (landed === LEASE_LOST) return LEASE_LOST;
      return { phase: state.phase, moved: state.moved + landed, movedNow: landed };
    }
    if (state.phase === "cold") {
      const slots = map.movingSlotsOf(shard);
      if (state.slotIndex >= slots.length) return this.advance(shard, leaseToken, map.epoch, state, ["phase", "schedules", "cursor", "0", "passMoving", "0"]);
      const run = slots.slice(state.slotIndex, state.slotIndex + COLD_SLOTS);
      const reply = (await this.runner.run(
        "reshardOutCold",
        [keys.lease, keys.outbox, keys.coldCount, ...run.map((slot) => keys.coldPrefix + slot)],
        [leaseToken, to, COLD_ELEMENTS, ...run],
      )) as (string | number)[];
      if (reply[0] === "lease") return LEASE_LOST;
      const landed = await this.land(shard, leaseToken, pairs(reply, 2), wakeHorizonScore);
      if (landed === LEASE_LOST) return LEASE_LOST;
      const emptied = Number(reply[1]);
      const fields = emptied > 0 ? ["slotIndex", String(state.slotIndex + emptied)] : [];
      return this.advance(shard, leaseToken, map.epoch, { ...state, moved: state.moved + landed }, fields, landed);
    }
    if (state.phase === "schedules" || state.phase === "sweep") {
      const schedulesKey = this.keyBook.schedules(shard);
      const [next, found] = await this.runner.redis.hscan(schedulesKey, state.cursor, "COUNT", SCAN_COUNT);
      const argv: (string | number)[] = [leaseToken];
      for (let i = 0; i < found.length; i += 2) {
        const name = found[i]!;
        const slot = keySlot(name);
        const dest = slot % to;
        if (dest !== shard) argv.push(name, dest, slot);
      }
      let landed = 0;
      if (argv.length > 1) {
        const reply = (await this.runner.run("reshardOutSchedules", [keys.lease, keys.outbox, schedulesKey, this.keyBook.scheduleWake(shard)], argv)) as (string | number)[];
        if (reply[0] === "lease") return LEASE_LOST;
        const result = await this.land(shard, leaseToken, pairs(reply, 1), wakeHorizonScore);
        if (result === LEASE_LOST) return LEASE_LOST;
        landed = result;
      }
      const passMoving = state.passMoving + landed;
      let fields: string[];
      if (next !== "0") fields = ["cursor", next, "passMoving", String(passMoving)];
      // A schedule written late (sweep) may have had occurrences planted here: back to tasks for them.
      else if (state.phase === "schedules" || passMoving > 0) fields = ["phase", "tasks", "cursor", "0", "passMoving", "0"];
      else fields = ["phase", "done", "cursor", "0"];
      return this.advance(shard, leaseToken, map.epoch, { ...state, moved: state.moved + landed }, fields, landed);
    }
    if (state.phase === "tasks" || state.phase === "dead") {
      const [next, found] =
        state.phase === "tasks"
          ? await this.runner.redis.hscan(keys.tasks, state.cursor, "COUNT", SCAN_COUNT)
          : await this.runner.redis.zscan(keys.dead, state.cursor, "COUNT", SCAN_COUNT);
      const argv: (string | number)[] = [leaseToken, state.phase === "tasks" ? "task" : "dead", keys.donePrefix];
      for (let i = 0; i < found.length; i += 2) {
        const id = found[i]!;
        const slot = keySlot(id);
        const dest = slot % to;
        if (dest !== shard) argv.push(id, dest, slot);
      }
      let landed = 0;
      let running = 0;
      if (argv.length > 3) {
        const reply = (await this.runner.run(
          "reshardOut",
          [keys.lease, keys.due, keys.tasks, keys.err, keys.progress, keys.outbox, keys.dead],
          argv,
        )) as (string | number)[];
        if (reply[0] === "lease") return LEASE_LOST;
        running = Number(reply[1]);
        const result = await this.land(shard, leaseToken, pairs(reply, 2), wakeHorizonScore);
        if (result === LEASE_LOST) return LEASE_LOST;
        landed = result;
      }
      // A tasks pass is over when the scan comes back to cursor 0; the phase is over after a
      // pass that met no task of a moving slot (a running one comes back to `due` or finishes).
      const passMoving = state.passMoving + landed + running;
      let fields: string[];
      if (next !== "0") fields = ["cursor", next, "passMoving", String(passMoving)];
      else if (state.phase === "dead") fields = ["phase", "sweep", "cursor", "0", "passMoving", "0"];
      else if (passMoving === 0) fields = ["phase", "dead", "cursor", "0"];
      else fields = ["cursor", "0", "passMoving", "0"];
      return this.advance(shard, leaseToken, map.epoch, { ...state, moved: state.moved + landed }, fields, landed);
    }
    return { phase: "done", moved: state.moved, movedNow: 0 };
  }

  /** Every source shard's part of the running resize of `map` (shards 0..count-1). */
  async progress(map: ShardMap): Promise<SourceProgress[]> {
    const sources = [...Array(map.count).keys()];
    return Promise.all(
      sources.map(async (shard) => {
        const [epoch, phase, moved] = await this.runner.redis.hmget(this.keyBook.shard(shard).reshard, "epoch", "phase", "moved");
        if (Number(epoch) !== map.epoch) return { shard, phase: null, moved: 0 };
        return { shard, phase: phase as MovePhase, moved: Number(moved ?? 0) };
      }),
    );
  }

  /**
   * A task in a source shard's outbox (taken out, not landed yet), for
   * readers: null if it is not in transit there. The bundle's record or
   * final, by kind.
   */
  async inTransit(shard: number, id: string): Promise<{ kind: "task" | "cold" | "dead"; value: string } | null> {
    const bundle = await this.runner.redis.hget(this.keyBook.shard(shard).outbox, id);
    if (!bundle) return null;
    const parts = bundle.split("\0");
    if (parts[0] === "t") return { kind: "task", value: parts[3]! };
    if (parts[0] === "c") return { kind: "cold", value: parts[3]! };
    if (parts[0] === "s") return null;
    return { kind: "dead", value: parts[5]! };
  }

  /** Whether a schedule is in a source shard's outbox (taken out, not landed yet). */
  async scheduleInTransit(shard: number, name: string): Promise<boolean> {
    return (await this.runner.redis.hexists(this.keyBook.shard(shard).outbox, `\0s${name}`)) === 1;
  }

  private async advance(shard: number, leaseToken: string, epoch: number, state: MoveState, fields: string[], movedNow = 0): Promise<MoveReport | LeaseLost> {
    const after = fields.length > 0 ? await this.state(shard, leaseToken, epoch, fields) : state;
    if (after === LEASE_LOST) return LEASE_LOST;
    if (after === STALE) return { phase: "stale", moved: 0, movedNow: 0 };
    return { phase: after.phase, moved: after.moved, movedNow };
  }

  private async state(shard: number, leaseToken: string, epoch: number, fields: string[]): Promise<MoveState | LeaseLost | typeof STALE> {
    const keys = this.keyBook.shard(shard);
    const reply = (await this.runner.run("reshardState", [keys.lease, keys.reshard, keys.mapEpoch], [leaseToken, epoch, ...fields])) as string[];
    if (reply[0] === "lease") return LEASE_LOST;
    if (reply[0] === "stale") return STALE;
    const hash: Record<string, string> = {};
    for (let i = 0; i < reply.length; i += 2) hash[reply[i]!] = reply[i + 1]!;
    return {
      phase: hash.phase as MovePhase,
      cursor: hash.cursor ?? "0",
      slotIndex: Number(hash.slotIndex ?? 0),
      moved: Number(hash.moved ?? 0),
      passMoving: Number(hash.passMoving ?? 0),
    };
  }

  /**
   * Lands bundles in their destinations (one script per destination, in
   * parallel), then clears them from the source's outbox. Answers how many
   * were cleared. A failure leaves them in the outbox: the next step sends
   * them again and the destination refuses those it has.
   */
  private async land(shard: number, leaseToken: string, bundles: [string, string][], wakeHorizonScore: number): Promise<number | LeaseLost> {
    if (bundles.length === 0) return 0;
    const byDest = new Map<number, (string | number)[]>();
    for (const [id, bundle] of bundles) {
      const start = bundle.indexOf("\0") + 1;
      const dest = Number(bundle.slice(start, bundle.indexOf("\0", start)));
      let argv = byDest.get(dest);
      if (!argv) byDest.set(dest, (argv = []));
      argv.push(id, bundle);
    }
    await Promise.all(
      [...byDest].map(([dest, argv]) => {
        const keys = this.keyBook.shard(dest);
        return this.runner.run(
          "reshardIn",
          [keys.due, keys.tasks, keys.err, keys.dead, keys.coldCount, this.keyBook.schedules(dest), this.keyBook.scheduleWake(dest)],
          [keys.donePrefix, keys.coldPrefix, keys.wake, this.runner.publish, wakeHorizonScore, ...argv],
        );
      }),
    );
    const keys = this.keyBook.shard(shard);
    const cleared = await this.runner.run("reshardAck", [keys.lease, keys.outbox, keys.reshard], [leaseToken, ...bundles.map(([id]) => id)]);
    if (cleared === "lease") return LEASE_LOST;
    return Number(cleared);
  }
}

/** A script's flat id, bundle, id, bundle… tail (from position `from`) as pairs. */
function pairs(reply: (string | number)[], from: number): [string, string][] {
  const out: [string, string][] = [];
  for (let i = from; i + 1 < reply.length; i += 2) out.push([String(reply[i]), String(reply[i + 1])]);
  return out;
}
