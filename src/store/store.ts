/**
 * The store: the only code that talks to Redis, split by intent. Each part
 * owns one family of intents (Lua scripts on one shard's keys, typed
 * outcomes in outcomes.ts) behind a narrow interface, and a consumer takes
 * the part it uses: the shard actor and the pool take `attempts`, the
 * ownership loop `leases`, membership `nodes`, the client `tasks`,
 * `listings`, `pauses` and `schedules`, the planter `schedules`. This class
 * only opens the connection and
 * composes the parts.
 */
import { KeyBook } from "./keys.ts";
import { RedisSchedules } from "./schedules.ts";
import type { ConnectionTarget } from "./connection.ts";
import { ScriptRunner } from "./script-runner.ts";
import { RedisTaskWrites } from "./task-writes.ts";
import { RedisAttemptStore } from "./attempts.ts";
import { RedisListings } from "./listings.ts";
import { RedisPauses } from "./pauses.ts";
import { RedisLeases } from "./leases.ts";
import { RedisWakeHints } from "./wakes.ts";
import { RedisNodeRegistry } from "./node-registry.ts";
import { ClusterConfig } from "./cluster-config.ts";
import { RedisTime } from "./redis-time.ts";
import { RedisAttemptHistory } from "./attempt-history.ts";
import { RedisBulkJobRecords } from "./bulk-job-records.ts";
import { RedisReshardMoves } from "./reshard-moves.ts";
import { RedisCeleryHandoff } from "./celery-handoff.ts";
import { databaseOf } from "./celery-broker.ts";

export interface StoreOptions extends ConnectionTarget {
  prefix: string;
  /** Connection name shown in CLIENT LIST. */
  name?: string;
  /** Called for connection-level errors (metrics, logs); they are retried by the client. */
  onError?: (error: Error) => void;
  /** Claim and finish through Bun's own client on one server (lean-scripts.ts); default true. */
  leanScripts?: boolean;
}

export class Store {
  readonly prefix: string;
  private readonly keys: KeyBook;
  readonly tasks: RedisTaskWrites;
  readonly attempts: RedisAttemptStore;
  readonly listings: RedisListings;
  readonly pauses: RedisPauses;
  readonly leases: RedisLeases;
  readonly wakes: RedisWakeHints;
  readonly nodes: RedisNodeRegistry;
  readonly config: ClusterConfig;
  readonly time: RedisTime;
  readonly schedules: RedisSchedules;
  /** The console's attempt history (issue 15). */
  readonly history: RedisAttemptHistory;
  /** Progress of the console's bulk jobs (issue 15). */
  readonly bulkJobs: RedisBulkJobRecords;
  readonly reshard: RedisReshardMoves;
  /** Celery hand-offs when the broker is this server (the Celery target). */
  readonly celery: RedisCeleryHandoff;
  private readonly runner: ScriptRunner;

  constructor(options: StoreOptions) {
    this.prefix = options.prefix;
    const onError = options.onError ?? (() => {});
    this.keys = new KeyBook(options.prefix);
    this.runner = new ScriptRunner(options, options.name ?? "tickwheel", onError);
    this.tasks = new RedisTaskWrites(this.runner, this.keys);
    this.attempts = new RedisAttemptStore(this.runner, this.keys);
    this.listings = new RedisListings(this.runner, this.keys);
    this.pauses = new RedisPauses(this.runner, this.keys);
    this.leases = new RedisLeases(this.runner, this.keys);
    this.wakes = new RedisWakeHints(options, this.keys, this.runner.clustered, onError);
    this.nodes = new RedisNodeRegistry(this.runner, this.keys);
    this.config = new ClusterConfig(this.runner, this.keys);
    this.time = new RedisTime(this.runner);
    this.schedules = new RedisSchedules(this.runner, this.keys);
    this.history = new RedisAttemptHistory(this.runner, this.keys);
    this.bulkJobs = new RedisBulkJobRecords(this.runner, this.keys);
    this.reshard = new RedisReshardMoves(this.runner, this.keys);
    this.celery = new RedisCeleryHandoff(this.runner, this.keys, options.redisUrl && !this.runner.clustered ? databaseOf(options.redisUrl) : 0);
  }

  /** True while the main connection is up; /ready reports it. */
  get ready(): boolean {
    return this.runner.ready;
  }

  async quit(): Promise<void> {
    await Promise.all([this.runner.quit(), this.wakes.quit()]);
  }
}
