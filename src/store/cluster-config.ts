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

/** The shard map as the config hash stores it (see resize-start-1.lua and resize-finish-1.lua). */
function mapOf(shards?: string | null, epoch?: string | null, resizeTo?: string | null, previous?: string | null, phase?: string | null): ShardMap {
  return new ShardMap(Number(shards), Number(epoch ?? FIRST_SHARD_MAP_EPOCH), {
    resizingTo: resizeTo ? Number(resizeTo) : null,
    preparing: phase === "preparing",
    previousCount: previous ? Number(previous) : null,
  });
}

export type ResizeStart = { kind: "started"; epoch: number } | { kind: "busy"; resizingTo: number } | { kind: "same"; count: number };

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
    const [formatRaw, shardsRaw, epochRaw, lookaheadRaw, coldAfterRaw, resizeToRaw, previousRaw, phaseRaw] = await redis.hmget(
      key,
      "dataFormat",
      "shards",
      "shardMapEpoch",
      "lookaheadMs",
      "coldAfterMs",
      "resizeTo",
      "previousShards",
      "resizePhase",
    );
    const dataFormat = Number(formatRaw);
    if (!KNOWN_DATA_FORMATS.includes(dataFormat)) {
      throw new ClusterConfigError(
        "data_format_unknown",
        `the data under prefix "${prefix}" is in format ${formatRaw}, which this tickwheel (data format ${DATA_FORMAT}) cannot read; ` +
          `run a tickwheel release that knows format ${formatRaw}, or use another prefix`,
      );
    }
    const shards = mapOf(shardsRaw, epochRaw, resizeToRaw, previousRaw, phaseRaw);
    const wanted = options.wantedShards;
    if (wanted !== undefined && shards.count !== wanted && shards.resizingTo !== wanted) {
      const now = shards.resizingTo === null ? `${shards.count} shards` : `${shards.count} shards, resizing to ${shards.resizingTo}`;
      throw new ClusterConfigError(
        "shard_count_mismatch",
        `TICKWHEEL_SHARDS is ${wanted} but the data under prefix "${prefix}" has ${now}; ` +
          `start with TICKWHEEL_SHARDS=${shards.resizingTo ?? shards.count}, or change the count online with "tickwheel shards resize ${wanted}" (POST /admin/shards/resize)`,
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

  /** The shard map as stored now (after ensure created it). */
  async shardMap(): Promise<ShardMap> {
    const [shards, epoch, resizeTo, previous, phase] = await this.runner.redis.hmget(
      this.keyBook.config(),
      "shards",
      "shardMapEpoch",
      "resizeTo",
      "previousShards",
      "resizePhase",
    );
    return mapOf(shards, epoch, resizeTo, previous, phase);
  }

  /** A preparing resize starts moving slots (every shard is leased); false if it is not that one. */
  async beginMoves(epoch: number): Promise<boolean> {
    return Number(await this.runner.run("resizeMove", [this.keyBook.config()], [epoch])) > 0;
  }

  /** Starts a resize to `count` shards unless one runs (atomic: of two requests at once, one starts). */
  async startResize(count: number, nowMs: number): Promise<ResizeStart> {
    const [kind, value] = (await this.runner.run("resizeStart", [this.keyBook.config()], [count, nowMs])) as [string, string];
    if (kind === "started") return { kind, epoch: Number(value) };
    if (kind === "busy") return { kind, resizingTo: Number(value) };
    return { kind: "same", count: Number(value) };
  }

  /** Makes the target the stable map; false if that resize was finished already. */
  async finishResize(epoch: number, nowMs: number): Promise<boolean> {
    return Number(await this.runner.run("resizeFinish", [this.keyBook.config()], [epoch, nowMs])) > 0;
  }

  /** When the running resize started and the last one finished (ms), for progress reports. */
  async resizeTimes(): Promise<{ startedAt: number | null; finishedAt: number | null }> {
    const [started, finished] = await this.runner.redis.hmget(this.keyBook.config(), "resizeStartedAt", "resizeFinishedAt");
    return { startedAt: started ? Number(started) : null, finishedAt: finished ? Number(finished) : null };
  }
}
