/**
 * Opening connections to Redis: one server (redis:// or rediss://, user and
 * password allowed) or a Redis Cluster given by seed nodes. Commands fail fast
 * while Redis is unreachable (a couple of retries) instead of queueing
 * forever, so every loop sees the error, backs off and reports not-ready.
 */
import "./tracing-channel-fix.ts";
import Redis, { Cluster, type RedisOptions } from "ioredis";

export interface ConnectionTarget {
  /** redis://[user:pass@]host:port[/db] or rediss://… */
  redisUrl?: string;
  /** Redis Cluster seed nodes as "host:port". Takes precedence over redisUrl. */
  clusterNodes?: string[];
}

export type Connection = Redis | Cluster;

const baseOptions: RedisOptions = {
  // Fail a command after two reconnect attempts rather than holding it: the
  // caller's loop owns retrying and backoff.
  maxRetriesPerRequest: 2,
  // Reconnect quickly at first, then at most once a second while Redis is down.
  retryStrategy: (times) => Math.min(50 * times, 1000),
  enableAutoPipelining: true,
  lazyConnect: false,
};

export function openConnection(target: ConnectionTarget, name: string, options: { sharded?: boolean } = {}): Connection {
  if (target.clusterNodes && target.clusterNodes.length > 0) {
    const seeds = target.clusterNodes.map(parseHostPort);
    return new Cluster(seeds, {
      redisOptions: { ...baseOptions, connectionName: name },
      enableAutoPipelining: true,
      shardedSubscribers: options.sharded ?? false,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
    });
  }
  if (!target.redisUrl) throw new Error("no Redis given: set REDIS_URL or REDIS_CLUSTER_NODES");
  return new Redis(target.redisUrl, { ...baseOptions, connectionName: name });
}

export function parseHostPort(hostPort: string): { host: string; port: number } {
  const at = hostPort.lastIndexOf(":");
  const port = Number(hostPort.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`expected host:port, got "${hostPort}"`);
  }
  return { host: hostPort.slice(0, at), port };
}
