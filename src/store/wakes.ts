/**
 * Wake hints: producers publish "id|score" on a shard's channel when they
 * store a task due within the look-ahead, and the owner's actor puts it in
 * its wheel at once. Hints come over a second connection (a subscribed
 * connection can send nothing else), opened on the first subscribe.
 */
import { openConnection, type Connection, type ConnectionTarget } from "./connection.ts";
import type { KeyBook } from "./keys.ts";
import { quitConnection } from "./script-runner.ts";

/**
 * The due ms of the tasks one hint message names: whole ms, each score's priority fraction
 * dropped (the ids are not needed either: the actor counts tasks per ms).
 */
export type WakeListener = (shard: number, dueMs: number[]) => void;

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
    // listener gets the due ms of one message together.
    const deliver = (channel: string, message: string) => {
      const shard = this.channelShards.get(channel);
      const listener = this.wakeListener;
      if (shard === undefined || !listener) return;
      const dueMs: number[] = [];
      let start = 0;
      while (start < message.length) {
        let end = message.indexOf("\n", start);
        if (end < 0) end = message.length;
        const bar = message.lastIndexOf("|", end - 1);
        if (bar >= start) {
          const ms = wholeMsOf(message, bar + 1, end);
          if (ms !== null) dueMs.push(ms);
        }
        start = end + 1;
      }
      if (dueMs.length > 0) listener(shard, dueMs);
    };
    subscriber.on(this.clustered ? "smessage" : "message", deliver);
    this.subscriber = subscriber;
    return subscriber;
  }

  async quit(): Promise<void> {
    if (this.subscriber) await quitConnection(this.subscriber);
  }
}

/**
 * The whole ms of the score written in text[from, to) ("1764667512345.5625" → 1764667512345), or
 * null when that is not a score. Read digit by digit: no string cut out per task, thousands a
 * second at high rates.
 */
export function wholeMsOf(text: string, from: number, to: number): number | null {
  let value = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57) value = value * 10 + (code - 48);
    else if (code === 46 && i > from) return value;
    else return null;
  }
  return to > from ? value : null;
}
