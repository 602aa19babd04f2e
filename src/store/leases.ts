/**
 * Leases: one fenced lease per shard (lua/lease-*.lua). Its token
 * ("nodeId:epoch") is what every attempt script checks.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import type { LeaseAcquireOutcome } from "./outcomes.ts";

export interface Leases {
  acquire(shard: number, nodeId: string, ttlMs: number): Promise<LeaseAcquireOutcome>;
  renew(shard: number, token: string, ttlMs: number): Promise<boolean>;
  release(shard: number, token: string): Promise<boolean>;
}

export class RedisLeases implements Leases {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /** Takes a shard's lease if it is free; the token carries a fencing epoch that only goes up. */
  async acquire(shard: number, nodeId: string, ttlMs: number): Promise<LeaseAcquireOutcome> {
    const keys = this.keyBook.shard(shard);
    const reply = (await this.runner.run("leaseAcquire", [keys.lease, keys.epoch], [nodeId, ttlMs])) as [number, string, number?];
    return reply[0] === 1
      ? { acquired: true, token: reply[1] }
      : { acquired: false, holder: reply[1], holderTtlMs: Math.max(0, Number(reply[2] ?? ttlMs)) };
  }

  /** Extends the lease if the token still holds it. */
  async renew(shard: number, token: string, ttlMs: number): Promise<boolean> {
    return (await this.runner.run("leaseRenew", [this.keyBook.shard(shard).lease], [token, ttlMs])) === 1;
  }

  /** The token holding a shard's lease, or null (a preparing resize waits until every shard has one). */
  async holder(shard: number): Promise<string | null> {
    return this.runner.redis.get(this.keyBook.shard(shard).lease);
  }

  /** Gives the lease up if the token still holds it, so another node takes the shard at once. */
  async release(shard: number, token: string): Promise<boolean> {
    return (await this.runner.run("leaseRelease", [this.keyBook.shard(shard).lease], [token])) === 1;
  }
}
