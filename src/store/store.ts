/**
 * The store: the only code that talks to Redis, split by intent. Each part
 * owns one family of intents (Lua scripts on one shard's keys, typed
 * outcomes in outcomes.ts) behind a narrow interface, and a consumer takes
 * the part it uses: the shard actor and the pool take `attempts`, the
 * ownership loop `leases`, membership `nodes`, the client `tasks`,
 * `listings` and `pauses`. This class only opens the connection and
 * composes the parts.
 */
import { KeyBook } from "./keys.ts";
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

export interface StoreOptions extends ConnectionTarget {
  prefix: string;
  /** Connection name shown in CLIENT LIST. */
  name?: string;
  /** Called for connection-level errors (metrics, logs); they are retried by the client. */
  onError?: (error: Error) => void;
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
  }

  /** True while the main connection is up; /ready reports it. */
  get ready(): boolean {
    return this.runner.ready;
  }

  async quit(): Promise<void> {
    await Promise.all([this.runner.quit(), this.wakes.quit()]);
  }
}
