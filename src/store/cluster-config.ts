/**
 * The cluster config: what is a property of the data under a prefix, not of
 * one node, kept in one hash ({config}): the shard map (count and epoch),
 * the data format, and the look-ahead and cold threshold the nodes run with
 * (producers read them to know when a task needs a wake hint or goes cold).
 * The first node or client on a prefix writes the map and the format;
 * everyone after must agree with them.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { ShardMap, FIRST_SHARD_MAP_EPOCH } from "../core/shard-map.ts";
import { DATA_FORMAT, KNOWN_DATA_FORMATS } from "./data-format.ts";

export interface ClusterSettings {
  shards: ShardMap;
  /** Data format of the prefix (data-format.ts). */
  dataFormat: number;
  /** True if this call wrote the format: the prefix had no data format yet. */
  wroteDataFormat: boolean;
  lookaheadMs: number | null;
  coldAfterMs: number | null;
}

export interface EnsureOptions {
  /** The shard count this process was told to use; if the data has another, ensure fails. */
  wantedShards?: number;
  /** Shard count for a prefix that has none yet (and no wantedShards). */
  fallbackShards: number;
  /** Recorded by nodes (producers only read them). */
  lookaheadMs?: number;
  coldAfterMs?: number;
}

export type ClusterConfigErrorCode = "data_format_unknown" | "shard_count_mismatch";

/** The data under the prefix cannot be used by this process; the message says what to do. */
export class ClusterConfigError extends Error {
  readonly code: ClusterConfigErrorCode;

  constructor(code: ClusterConfigErrorCode, message: string) {
    super(message);
    this.name = "ClusterConfigError";
    this.code = code;
  }
}

export class ClusterConfig {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /**
   * Reads the cluster config, writing the shard map and data format first if
   * the prefix has none. A prefix whose config predates the format field
   * (written before it existed) is in today's format: that layout is this
   * one, so the format is simply recorded. Fails with ClusterConfigError on
   * a format this build does not know or a shard count other than wanted;
   * in both cases it has changed nothing.
   */
  async ensure(options: EnsureOptions): Promise<ClusterSettings> {
    const redis = this.runner.redis;
    const key = this.keyBook.config();
    const prefix = this.keyBook.prefix;
    const [wroteFormat] = await Promise.all([
      redis.hsetnx(key, "dataFormat", String(DATA_FORMAT)),
      redis.hsetnx(key, "shards", String(options.wantedShards ?? options.fallbackShards)),
      redis.hsetnx(key, "shardMapEpoch", String(FIRST_SHARD_MAP_EPOCH)),
    ]);
    const [formatRaw, shardsRaw, epochRaw, lookaheadRaw, coldAfterRaw] = await redis.hmget(
      key,
      "dataFormat",
      "shards",
      "shardMapEpoch",
      "lookaheadMs",
      "coldAfterMs",
    );
    const dataFormat = Number(formatRaw);
    if (!KNOWN_DATA_FORMATS.includes(dataFormat)) {
      throw new ClusterConfigError(
        "data_format_unknown",
        `the data under prefix "${prefix}" is in format ${formatRaw}, which this tickwheel (data format ${DATA_FORMAT}) cannot read; ` +
          `run a tickwheel release that knows format ${formatRaw}, or use another prefix`,
      );
    }
    const shards = new ShardMap(Number(shardsRaw), Number(epochRaw));
    if (options.wantedShards !== undefined && shards.count !== options.wantedShards) {
      throw new ClusterConfigError(
        "shard_count_mismatch",
        `TICKWHEEL_SHARDS is ${options.wantedShards} but the data under prefix "${prefix}" was created with ${shards.count} shards; ` +
          `use ${shards.count} (changing the shard count needs resharding, which is not supported yet)`,
      );
    }
    const writes: Promise<unknown>[] = [];
    if (options.lookaheadMs !== undefined) writes.push(redis.hset(key, "lookaheadMs", String(options.lookaheadMs)));
    if (options.coldAfterMs !== undefined) writes.push(redis.hset(key, "coldAfterMs", String(options.coldAfterMs)));
    await Promise.all(writes);
    return {
      shards,
      dataFormat,
      wroteDataFormat: wroteFormat === 1,
      lookaheadMs: options.lookaheadMs ?? (lookaheadRaw ? Number(lookaheadRaw) : null),
      coldAfterMs: options.coldAfterMs ?? (coldAfterRaw ? Number(coldAfterRaw) : null),
    };
  }
}
