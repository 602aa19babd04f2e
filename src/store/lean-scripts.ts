/**
 * The start path's scripts (claim and finish) over Bun's own Redis client.
 *
 * Why: in a burst the node's thread, not Redis, is the bound (BENCHMARKS.md,
 * "The sixteenth session"), and ioredis spends it per call: a Command and a
 * Pipeline object, arguments turned to Buffers through node:net's stream,
 * the reply decoded in JavaScript. Bun's RedisClient does the same in native
 * code. Sent through it, the claims and finishes of a 100,000-task burst ran
 * at 138.1k tasks/s against 112.7k through ioredis, the node's CPU per task
 * 6.0 µs against 7.6 (medians of eleven alternating runs at concurrency 1,000).
 *
 * Only for one server: Bun's client has no Redis Cluster support, so a
 * clustered store keeps every script on ioredis. Everything else (the other
 * scripts, plain reads, wake hints) stays on ioredis too: they are not on the
 * start path, and ioredis' cluster routing, reconnect policy and pub/sub are
 * what they rely on.
 *
 * Behaves as the ioredis connection does where callers can tell: fails fast
 * while Redis is unreachable (no offline queue; a call finds the connection
 * down, tries to connect once, and fails with a connection error the caller
 * retries later), loads a script Redis does not know (after a restart or
 * SCRIPT FLUSH) and sends it again, and its errors carry Redis' own text, so
 * redis-errors.ts types them the same (OOM, READONLY, ...). The connection is
 * opened on first use: a process that never claims (a producer) opens none.
 */
import { RedisClient } from "bun";

export class LeanScripts {
  private readonly url: string;
  /** CLIENT SETNAME after each connect: the store's connection name and "-lean", for CLIENT LIST. */
  private readonly name: string;
  private client: RedisClient | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;

  constructor(url: string, name: string) {
    this.url = url;
    this.name = `${name}-lean`;
  }

  /** Runs a script by its SHA-1 (scripts.ts scriptBySha), loading its source when Redis answers NOSCRIPT. */
  async eval(script: { sha: string; lua: string }, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const { sha, lua } = script;
    const args: string[] = [sha, String(keys.length)];
    for (const key of keys) args.push(key);
    for (const arg of argv) args.push(typeof arg === "string" ? arg : String(arg));
    const client = await this.ready();
    try {
      return await client.send("EVALSHA", args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      await client.send("SCRIPT", ["LOAD", lua]);
      return await client.send("EVALSHA", args);
    }
  }

  /** The connected client; connects (once for all callers waiting) when it is not. */
  private async ready(): Promise<RedisClient> {
    if (this.closed) throw new Error("Connection is closed");
    this.client ??= new RedisClient(this.url, {
      // Reconnecting is this class's: on the next call, so an outage fails calls at once
      // instead of queueing them, as the ioredis connection (maxRetriesPerRequest) does.
      autoReconnect: false,
      enableOfflineQueue: false,
      connectionTimeout: 2_000,
    });
    const client = this.client;
    if (!client.connected) {
      this.connecting ??= client
        .connect()
        .then(() => client.send("CLIENT", ["SETNAME", this.name]))
        .then(() => undefined)
        .finally(() => (this.connecting = null));
      await this.connecting;
    }
    return client;
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = null;
  }
}
