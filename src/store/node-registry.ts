/**
 * The node registry (membership): each node's entry, refreshed by its
 * heartbeat and expiring by a TTL on Redis' clock (lua/node-*.lua).
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import type { HeartbeatOutcome, NodeEntry } from "./outcomes.ts";

/** Expired registry entries forgotten per heartbeat; there are rarely more than a handful. */
const NODE_PURGE_BATCH = 100;

export interface NodeRegistry {
  heartbeat(nodeId: string, instance: string, ttlMs: number, infoJson: string): Promise<HeartbeatOutcome>;
  leave(nodeId: string, instance: string): Promise<boolean>;
  list(): Promise<{ redisNowMs: number; nodes: NodeEntry[] }>;
}

export class RedisNodeRegistry implements NodeRegistry {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /**
   * Registers or refreshes a node (one script: forget expired entries,
   * refuse an id held by another live instance, answer the live members).
   */
  async heartbeat(nodeId: string, instance: string, ttlMs: number, infoJson: string): Promise<HeartbeatOutcome> {
    const reply = (await this.runner.run(
      "nodeHeartbeat",
      [this.keyBook.nodes(), this.keyBook.nodesAlive()],
      [nodeId, instance, ttlMs, infoJson, NODE_PURGE_BATCH],
    )) as (string | number)[];
    const redisNowMs = Number(reply[1]);
    if (reply[0] !== 1) {
      const entry = String(reply[3]);
      const nl = entry.indexOf("\n");
      return {
        registered: false,
        redisNowMs,
        holder: { id: nodeId, instance: entry.slice(0, nl), expiresAtMs: Number(reply[2]), infoJson: entry.slice(nl + 1) },
      };
    }
    const live: { id: string; expiresAtMs: number }[] = [];
    for (let i = 2; i < reply.length; i += 2) live.push({ id: String(reply[i]), expiresAtMs: Number(reply[i + 1]) });
    return { registered: true, redisNowMs, live };
  }

  /** Removes this instance's registry entry; false if it was not (or no longer) registered by it. */
  async leave(nodeId: string, instance: string): Promise<boolean> {
    return (await this.runner.run("nodeLeave", [this.keyBook.nodes(), this.keyBook.nodesAlive()], [nodeId, instance])) === 1;
  }

  /** Every live registry entry, with Redis' current time. */
  async list(): Promise<{ redisNowMs: number; nodes: NodeEntry[] }> {
    const reply = (await this.runner.run("nodeList", [this.keyBook.nodes(), this.keyBook.nodesAlive()], [])) as (string | number)[];
    const nodes: NodeEntry[] = [];
    for (let i = 1; i < reply.length; i += 3) {
      const entry = String(reply[i + 2]);
      const nl = entry.indexOf("\n");
      nodes.push({ id: String(reply[i]), instance: entry.slice(0, nl), expiresAtMs: Number(reply[i + 1]), infoJson: entry.slice(nl + 1) });
    }
    return { redisNowMs: Number(reply[0]), nodes };
  }
}
