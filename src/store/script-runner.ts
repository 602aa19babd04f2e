/**
 * The script runner: the store's one connection, its registered scripts
 * (scripts.ts) and the three ways a part runs one. Every store part reaches
 * Redis through this object, so the connection's options (fail fast,
 * automatic pipelining) and the EVALSHA-with-NOSCRIPT-fallback rule hold
 * for all of them.
 */
import { openConnection, type Connection, type ConnectionTarget } from "./connection.ts";
import { commandName, defineScripts, keyCountFirst, scriptBySha, type ScriptName } from "./scripts.ts";
import { asRedisRefusal } from "./redis-errors.ts";
import { LeanScripts } from "./lean-scripts.ts";

/**
 * The start path's scripts, sent through Bun's own client where there is one server
 * (lean-scripts.ts). Not the window read (window-1.lua): through Bun's client it made the first
 * message of a 50,000-task Celery hand-off on the same server 7-12 ms late against 3-4 in three
 * alternating pairs (BENCHMARKS.md, "The seventeenth session"), and its reply is four values now.
 */
const LEAN: ReadonlySet<ScriptName> = new Set<ScriptName>(["claim", "finish"]);

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** Rethrows a Redis error as its RedisRefusal; anything else as it is. */
function throwTyped(error: unknown): never {
  throw asRedisRefusal(error);
}

export class ScriptRunner {
  /** For the few plain reads (ZRANGEBYSCORE, HGETALL, counts) that need no script. */
  readonly redis: Connection;
  readonly clustered: boolean;
  /** Publish command for wake hints: a cluster publishes to the shard's slot (SPUBLISH). */
  readonly publish: "PUBLISH" | "SPUBLISH";

  /** Claim and finish over Bun's client; null on a Redis Cluster or with TICKWHEEL_LEAN_SCRIPTS=false. */
  private readonly lean: LeanScripts | null;

  constructor(target: ConnectionTarget & { leanScripts?: boolean }, name: string, onError: (error: Error) => void) {
    this.clustered = !!target.clusterNodes && target.clusterNodes.length > 0;
    this.publish = this.clustered ? "SPUBLISH" : "PUBLISH";
    this.redis = openConnection(target, name);
    this.redis.on("error", onError);
    defineScripts(this.redis);
    this.lean = target.leanScripts !== false && !this.clustered && target.redisUrl ? new LeanScripts(target.redisUrl, name) : null;
  }

  private runLean(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    return this.lean!.eval(scriptBySha(script), keys, argv).catch(throwTyped);
  }

  /** True while the connection is up; /ready reports it. */
  get ready(): boolean {
    return this.redis.status === "ready";
  }

  /**
   * Runs a registered script; ioredis does EVALSHA with the NOSCRIPT fallback.
   * Redis' refusals and connection failures come out as RedisRefusal (a
   * typed error with a kind and a code, redis-errors.ts), for every call.
   */
  run(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    if (this.lean && LEAN.has(script)) return this.runLean(script, keys, argv);
    const fn = (this.redis as unknown as Record<string, ScriptFn>)[commandName(script)]!;
    if (keyCountFirst(script)) return fn.call(this.redis, keys.length, ...keys, ...argv).catch(throwTyped);
    return fn.call(this.redis, ...keys, ...argv).catch(throwTyped);
  }

  /** runBuffer(), written to the socket now rather than with the next automatic pipeline. */
  async runNow(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    // Bun's client queues and writes natively; there is no ioredis pipeline to bypass.
    if (this.lean && LEAN.has(script)) return this.runLean(script, keys, argv);
    const pipeline = this.redis.pipeline() as unknown as Record<string, ScriptFn> & { exec(): Promise<[Error | null, unknown][] | null> };
    pipeline[`${commandName(script)}Buffer`]!.call(pipeline, ...keys, ...argv);
    const results = await pipeline.exec();
    const [error, reply] = results?.[0] ?? [new Error("pipeline returned nothing"), null];
    if (error) throwTyped(error);
    return reply;
  }

  /**
   * run(), with the reply's strings as Buffers (ioredis' <command>Buffer variant). Through Bun's
   * client (claim, finish) they come as strings: callers take either.
   */
  runBuffer(script: ScriptName, keys: string[], argv: (string | number)[]): Promise<unknown> {
    if (this.lean && LEAN.has(script)) return this.runLean(script, keys, argv);
    const fn = (this.redis as unknown as Record<string, ScriptFn>)[`${commandName(script)}Buffer`]!;
    return fn.call(this.redis, ...keys, ...argv).catch(throwTyped);
  }

  async quit(): Promise<void> {
    this.lean?.close();
    await quitConnection(this.redis);
  }
}

/** Closes a connection politely, or drops it if Redis is gone. */
export async function quitConnection(connection: Connection): Promise<void> {
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
