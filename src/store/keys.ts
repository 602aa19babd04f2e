/**
 * Key names. Every key of shard k carries the hash tag {k}, so one shard's
 * keys sit in one Redis Cluster slot and each Lua script touches one slot:
 * the same scripts run on a standalone Redis and on a cluster.
 */
export interface ShardKeys {
  shard: number;
  /** ZSET id -> due score (ms + priority fraction). */
  due: string;
  /**
   * HASH id -> "attempt:score\n<spec json>" for pending and running tasks: a
   * task with a record here whose id is not in `due` is running.
   */
  tasks: string;
  /**
   * Claimed batches (lua/claim-6.lua): ZSET batch id -> visibility deadline
   * (ms) shared by the batch's attempts. One entry per claim, not per task:
   * an entry per running task was the biggest cost of claiming and finishing.
   */
  claims: string;
  /** HASH batch id -> what the claim returned ("id\0record\0…"): the batch's tasks, for the reaper and listing. */
  batches: string;
  /** STRING counter that numbers the shard's batches. */
  batchSeq: string;
  /** HASH id -> last error of a task waiting for its retry. */
  err: string;
  /** HASH id -> latest progress json of a running task. */
  progress: string;
  /** ZSET id -> ms it died; index for listing dead tasks. */
  dead: string;
  /** STRING owner token "nodeId:epoch" with a TTL. */
  lease: string;
  /** STRING fencing counter. */
  epoch: string;
  /** Pub/sub channel for wake hints. */
  wake: string;
  /** Cold tier (lua/lib/cold.lua): the LIST of hash slot s is coldPrefix + s. */
  coldPrefix: string;
  /** STRING: how many tasks of this shard are cold. */
  coldCount: string;
  /** Final records live in expiring slot hashes donePrefix + expiry ms (lua/lib/finals.lua). */
  donePrefix: string;
  /** STRING: lowest shard map epoch a producer must hold to schedule here (lua/schedule-4.lua). */
  mapEpoch: string;
  /** HASH: this shard's progress as a source of the resize in progress (lua/reshard-state-3.lua). */
  reshard: string;
  /** HASH id -> bundle: tasks taken out of this shard, not yet landed in their new one (lua/reshard-out-7.lua). */
  outbox: string;
}

export function shardKeys(prefix: string, shard: number): ShardKeys {
  const base = `${prefix}:{${shard}}:`;
  return {
    shard,
    due: base + "due",
    tasks: base + "tasks",
    claims: base + "claims",
    batches: base + "batches",
    batchSeq: base + "batchseq",
    err: base + "err",
    progress: base + "progress",
    dead: base + "dead",
    lease: base + "lease",
    epoch: base + "epoch",
    wake: base + "wake",
    donePrefix: base + "done:",
    coldPrefix: base + "cold:",
    coldCount: base + "coldcount",
    mapEpoch: base + "mapepoch",
    reshard: base + "reshard",
    outbox: base + "outbox",
  };
}

/** Cluster-wide settings (shard map, data format, look-ahead) under their own hash tag. */
export function configKey(prefix: string): string {
  return `${prefix}:{config}`;
}

/** Node registry (membership) under its own hash tag. */
export function nodesKey(prefix: string): string {
  return `${prefix}:{nodes}`;
}

/**
 * Every key name of one prefix, each shard's built once: the hot path asks
 * for a shard's keys per call and must not build strings each time.
 */
export class KeyBook {
  readonly prefix: string;
  private readonly byShard = new Map<number, ShardKeys>();

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  shard(shard: number): ShardKeys {
    let keys = this.byShard.get(shard);
    if (!keys) {
      keys = shardKeys(this.prefix, shard);
      this.byShard.set(shard, keys);
    }
    return keys;
  }

  config(): string {
    return configKey(this.prefix);
  }

  /** SET of the task names paused on a shard (the flag park checks). */
  pausedSet(shard: number): string {
    return `${this.prefix}:{${shard}}:paused`;
  }

  /** LIST of a shard's parked tasks of one paused name. */
  parked(shard: number, name: string): string {
    return `${this.prefix}:{${shard}}:parked:${name}`;
  }

  /** HASH name -> ms paused: the cluster-wide list of paused names. */
  pausedNames(): string {
    return `${configKey(this.prefix)}:paused`;
  }

  nodes(): string {
    return nodesKey(this.prefix);
  }

  /** HASH schedule name -> "<version>\t<last occurrence id>\n<json>": a shard's recurring schedules (store/schedules.ts). */
  schedules(shard: number): string {
    return `${this.prefix}:{${shard}}:schedules`;
  }

  /** ZSET schedule name -> ms at which the shard's planter looks at it next. */
  scheduleWake(shard: number): string {
    return `${this.prefix}:{${shard}}:schedwake`;
  }

  /** Expiry index of the registry; same hash tag as nodes() so both sit in one slot. */
  nodesAlive(): string {
    return `${nodesKey(this.prefix)}:alive`;
  }
}
