/**
 * What a node publishes about itself in the node registry at every
 * heartbeat, and how /admin/nodes and /admin/shards read it back: id,
 * address, start time, version, owned shards, pool load, and per owned
 * shard its fired count and lateness, so any node can show figures of
 * shards that another node runs.
 */
import { hostname } from "node:os";
import packageJson from "../../package.json" with { type: "json" };
import type { NodeRegistry } from "../store/node-registry.ts";
import type { ShardOwnership } from "./shard-ownership.ts";

/** The parts of a node the registry entry is built from. */
interface RegistrySource {
  readonly url: string | null;
  readonly startedAt: number;
  readonly ownership: Pick<ShardOwnership, "owned">;
  readonly pool: {
    readonly concurrency: number;
    readonly inFlight: number;
    readonly free: number;
    readonly counts: { started: number; dropped: number };
  };
  /** Lateness of every task this node started (start minus due, measured when the pool starts it). */
  readonly lateness: { readonly count: number; readonly max: number | null; percentile(p: number): number | null };
  actor(shard: number): { stats(): { fired: number; latenessP50: number | null; latenessP99: number | null } } | undefined;
  /** Redis' eviction policy as this node last read it (and the clock offset, once estimated). */
  readiness?(): { redis: RedisView; clock?: ClockView };
}

export interface RedisView {
  /** Redis' maxmemory-policy, "unknown" where CONFIG GET is refused, null before the first check. */
  maxmemoryPolicy: string | null;
  evicting: boolean | null;
  evictionAllowed: boolean;
}

export interface ClockView {
  /** This node's clock minus Redis' (ms), null before the first estimate. */
  offsetMs: number | null;
  /** Half the round trip of the sample the offset comes from: the estimate is within ± this. */
  errorMs: number | null;
  /** |offset| is past the bound at which the node warns (firing still corrects for it). */
  skewed: boolean;
}

interface ShardFigures {
  fired: number;
  latenessP50Ms: number | null;
  latenessP99Ms: number | null;
}

interface RegistryInfo {
  address: string | null;
  host: string;
  pid: number;
  startedAt: number;
  version: string;
  /** Shards whose lease this node holds. */
  shards: number[];
  pool: { concurrency: number; inFlight: number; free: number; started: number; dropped: number };
  /** Node-wide start lateness since the node started. */
  lateness: { count: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null };
  /** Per owned shard (key: shard number). */
  shardFigures: Record<string, ShardFigures>;
  /** Redis' eviction policy as this node sees it; null from nodes of earlier versions. */
  redis: RedisView | null;
  /** This node's clock against Redis'; null from nodes of earlier versions or before the first estimate. */
  clock: ClockView | null;
}

export interface NodeView extends RegistryInfo {
  id: string;
  self: boolean;
  /** Wall ms (Redis' clock) when the entry lapses unless refreshed. */
  expiresAt: number;
}

const HOST = hostname();

export function registryInfo(node: RegistrySource): RegistryInfo {
  const shards = [...node.ownership.owned().keys()].sort((a, b) => a - b);
  const shardFigures: Record<string, ShardFigures> = {};
  for (const shard of shards) {
    const stats = node.actor(shard)?.stats();
    if (stats) shardFigures[shard] = { fired: stats.fired, latenessP50Ms: stats.latenessP50, latenessP99Ms: stats.latenessP99 };
  }
  return {
    address: node.url,
    host: HOST,
    pid: process.pid,
    startedAt: node.startedAt,
    version: packageJson.version,
    shards,
    pool: {
      concurrency: node.pool.concurrency,
      inFlight: node.pool.inFlight,
      free: Math.max(0, node.pool.free),
      started: node.pool.counts.started,
      dropped: node.pool.counts.dropped,
    },
    lateness: { count: node.lateness.count, p50Ms: node.lateness.percentile(50), p99Ms: node.lateness.percentile(99), maxMs: node.lateness.max },
    shardFigures,
    redis: node.readiness?.().redis ?? null,
    clock: node.readiness?.().clock ?? null,
  };
}

/** Live nodes from the registry, sorted by id; an entry whose info does not parse shows its id only. */
export async function readNodeViews(store: NodeRegistry, selfId: string): Promise<NodeView[]> {
  const { nodes } = await store.list();
  return nodes
    .map((entry) => {
      let info: Partial<RegistryInfo> = {};
      try {
        info = JSON.parse(entry.infoJson) as Partial<RegistryInfo>;
      } catch {
        // written by a different version; show what is certain
      }
      return {
        id: entry.id,
        self: entry.id === selfId,
        expiresAt: entry.expiresAtMs,
        address: info.address ?? null,
        host: info.host ?? "",
        pid: info.pid ?? 0,
        startedAt: info.startedAt ?? 0,
        version: info.version ?? "",
        shards: info.shards ?? [],
        pool: info.pool ?? { concurrency: 0, inFlight: 0, free: 0, started: 0, dropped: 0 },
        lateness: info.lateness ?? { count: 0, p50Ms: null, p99Ms: null, maxMs: null },
        shardFigures: info.shardFigures ?? {},
        redis: info.redis ?? null,
        clock: info.clock ?? null,
      };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Fired count and lateness of every shard some live node reports, keyed by shard, with the reporter. */
export function figuresByShard(views: NodeView[]): Map<number, ShardFigures & { nodeId: string }> {
  const out = new Map<number, ShardFigures & { nodeId: string }>();
  for (const view of views) {
    for (const [shard, figures] of Object.entries(view.shardFigures)) out.set(Number(shard), { ...figures, nodeId: view.id });
  }
  return out;
}
