/**
 * Wake hints: producers publish "id|score" on a shard's channel when they
 * store a task due within the look-ahead, and the owner's actor puts it in
 * its wheel at once. Hints come over a second connection (a subscribed
 * connection can send nothing else), opened on the first subscribe.
 */
import { openConnection, type Connection, type ConnectionTarget } from "./connection.ts";
import type { KeyBook } from "./keys.ts";
import { quitConnection } from "./script-runner.ts";

/** The due scores of the tasks one hint message names (the ids are not needed: the actor counts). */
export type WakeListener = (shard: number, scores: number[]) => void;

export interface WakeHints {
  onWake(listener: WakeListener): void;
  subscribe(shards: number[]): Promise<void>;
  unsubscribe(shards: number[]): Promise<void>;
}

export class RedisWakeHints implements WakeHints {
  private readonly target: ConnectionTarget;
  private readonly keyBook: KeyBook;
  private readonly clustered: boolean;
  private readonly onError: (error: Error) => void;
  private subscriber: Connection | null = null;
  private readonly subscribedShards = new Set<number>();
  private wakeListener: WakeListener | null = null;
  private readonly channelShards = new Map<string, number>();

  constructor(target: ConnectionTarget, keyBook: KeyBook, clustered: boolean, onError: (error: Error) => void) {
    this.target = target;
    this.keyBook = keyBook;
    this.clustered = clustered;
    this.onError = onError;
  }

  /** Hints arrive as (shard, due scores); a lost hint only delays a task until the next refill. */
  onWake(listener: WakeListener): void {
    this.wakeListener = listener;
  }

  /** Listens for the hints of these shards (idempotent per shard). */
  async subscribe(shards: number[]): Promise<void> {
    const fresh = shards.filter((shard) => !this.subscribedShards.has(shard));
    if (fresh.length === 0) return;
    const subscriber = this.ensureSubscriber();
    for (const shard of fresh) {
      this.subscribedShards.add(shard);
      this.channelShards.set(this.keyBook.shard(shard).wake, shard);
    }
    const channels = fresh.map((shard) => this.keyBook.shard(shard).wake);
    if (this.clustered) {
      // Channels of different slots need separate SSUBSCRIBE calls.
      await Promise.all(channels.map((channel) => subscriber.ssubscribe(channel)));
    } else {
      await subscriber.subscribe(...channels);
    }
  }

  /** Stops listening for these shards' hints. */
  async unsubscribe(shards: number[]): Promise<void> {
    const gone = shards.filter((shard) => this.subscribedShards.delete(shard));
    if (gone.length === 0 || !this.subscriber) return;
    const channels = gone.map((shard) => this.keyBook.shard(shard).wake);
    if (this.clustered) await Promise.all(channels.map((channel) => this.subscriber!.sunsubscribe(channel)));
    else await this.subscriber.unsubscribe(...channels);
  }

  private ensureSubscriber(): Connection {
    if (this.subscriber) return this.subscriber;
    const subscriber = openConnection(this.target, "tickwheel-wake", { sharded: this.clustered });
    subscriber.on("error", (error: Error) => this.onError(error));
    // A message holds one hint "id|score" per line (schedule sends one message per call); the
    // listener gets the scores of one message together.
    const deliver = (channel: string, message: string) => {
      const shard = this.channelShards.get(channel);
      const listener = this.wakeListener;
      if (shard === undefined || !listener) return;
      const scores: number[] = [];
      let start = 0;
      while (start < message.length) {
        let end = message.indexOf("\n", start);
        if (end < 0) end = message.length;
        const bar = message.lastIndexOf("|", end - 1);
        if (bar >= start) {
          const score = Number(message.slice(bar + 1, end));
          if (Number.isFinite(score)) scores.push(score);
        }
        start = end + 1;
      }
      if (scores.length > 0) listener(shard, scores);
    };
    subscriber.on(this.clustered ? "smessage" : "message", deliver);
    this.subscriber = subscriber;
    return subscriber;
  }

  async quit(): Promise<void> {
    if (this.subscriber) await quitConnection(this.subscriber);
  }
}
