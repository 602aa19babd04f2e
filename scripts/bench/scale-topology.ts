/**
 * The Redis side of the scale-out case (scale-case.ts): one private
 * redis-server, or a 3-master Redis Cluster (the test helpers' cluster: free
 * loopback ports, a temp dir per master, no replicas), and what the case needs
 * to read from it without a node's help: which master holds each shard (its
 * keys' hash slot against CLUSTER SLOTS), which node holds each shard's lease,
 * and how many tasks wait in each shard. Probes go through the raw RESP client
 * (redisCommand), one command per connection: a few dozen per run, outside
 * every timed window.
 */
import { startRedis, startRedisCluster } from "../../test/helpers/redis-server.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { shardKeys } from "../../src/store/keys.ts";
import { keySlot } from "../../src/core/slot.ts";
import { DEFAULT_PREFIX } from "../../src/config/defaults.ts";

export type Layout = "redis" | "cluster";

export interface Master {
  port: number;
  /** The redis-server process, for its CPU time from /proc. */
  pid: number;
}

export interface Topology {
  layout: Layout;
  /** REDIS_URL for a node (on a cluster: the first master; REDIS_CLUSTER_NODES wins there). */
  redisUrl: string;
  /** Seeds `host:port,…` on a cluster, undefined on one server. */
  clusterNodes?: string;
  masters: Master[];
  /** Index into `masters` of the master that holds shard k's keys. */
  masterOf(shard: number): number;
  /** Tasks in shard k's due set. */
  dueCount(shard: number): Promise<number>;
  /** Node id holding shard k's lease, null when it is free. */
  leaseOwner(shard: number): Promise<string | null>;
  cleanup(): Promise<void>;
}

/** Starts a fresh topology on free loopback ports; `cleanup` kills its servers and removes their dirs. */
export async function startTopology(layout: Layout): Promise<Topology> {
  const prefix = process.env.TICKWHEEL_PREFIX ?? DEFAULT_PREFIX;
  if (layout === "redis") {
    const redis = await startRedis();
    return withProbes(layout, redis.url, undefined, [{ port: redis.port, pid: redis.pid }], () => 0, () => redis.cleanup(), prefix);
  }
  const cluster = await startRedisCluster();
  try {
    const masters = cluster.servers.map((server) => ({ port: server.port, pid: server.pid }));
    const ranges = await slotRanges(masters[0]!.port);
    const masterOfSlot = (slot: number) => {
      const range = ranges.find((r) => slot >= r.from && slot <= r.to);
      const index = range === undefined ? -1 : masters.findIndex((m) => m.port === range.port);
      if (index < 0) throw new Error(`no master of the cluster serves slot ${slot}`);
      return index;
    };
    return withProbes(layout, cluster.servers[0]!.url, cluster.seeds, masters, (shard) => masterOfSlot(keySlot(shardKeys(prefix, shard).due)), () => cluster.cleanup(), prefix);
  } catch (error) {
    await cluster.cleanup();
    throw error;
  }
}

function withProbes(
  layout: Layout,
  redisUrl: string,
  clusterNodes: string | undefined,
  masters: Master[],
  masterOf: (shard: number) => number,
  cleanup: () => Promise<void>,
  prefix: string,
): Topology {
  const ask = (shard: number, args: string[]) => redisCommand(masters[masterOf(shard)]!.port, args, { timeoutMs: 5_000 });
  return {
    layout,
    redisUrl,
    clusterNodes,
    masters,
    masterOf,
    dueCount: async (shard) => Number(await ask(shard, ["ZCARD", shardKeys(prefix, shard).due])),
    leaseOwner: async (shard) => {
      const token = await ask(shard, ["GET", shardKeys(prefix, shard).lease]);
      // The token is "nodeId:epoch" (lua/lease-acquire-2.lua); node ids cannot hold a ':'.
      return typeof token === "string" ? token.slice(0, token.lastIndexOf(":")) : null;
    },
    cleanup,
  };
}

/** CLUSTER SLOTS as [from, to] → the serving master's port. */
async function slotRanges(port: number): Promise<{ from: number; to: number; port: number }[]> {
  const reply = await redisCommand(port, ["CLUSTER", "SLOTS"], { timeoutMs: 5_000 });
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS on ${port}: unexpected reply ${String(reply)}`);
  return reply.map((entry) => {
    const [from, to, master] = entry as [number, number, [string, number]];
    return { from, to, port: Number(master[1]) };
  });
}
