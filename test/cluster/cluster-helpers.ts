// Helpers for the multi-node tests: start a group of real node processes that record every task
// start into Redis (test/fixtures/recording-tasks.ts), read that record back, and ask a node who
// owns which shard.
import { afterAll, beforeAll } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import { ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { startRedis, type RedisProcess, type StartRedisOptions } from "../helpers/redis-server.ts";
import { waitFor } from "../helpers/wait.ts";

export const RECORDING_TASKS = join(ROOT, "test/fixtures/recording-tasks.ts");

export interface StartRecord {
  id: string;
  node: string;
  attempt: number;
  atMs: number;
}

export interface ClusterNodeOptions {
  redisUrl?: string;
  clusterNodes?: string;
  prefix: string;
  env?: Record<string, string>;
}

export function startRecordingNode(options: ClusterNodeOptions, nodeId: string): Promise<NodeProcess> {
  return startNodeProcess({ ...options, tasksModule: RECORDING_TASKS, nodeId });
}

/** Lease TTL of the fault tests' nodes. */
export const FAULT_LEASE_TTL_MS = 3000;

/**
 * Node settings of the fault tests: leases of FAULT_LEASE_TTL_MS renewed
 * every second, and a lost node's claimed tasks come back 2 s after they
 * were claimed.
 */
export function faultEnv(shards: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TICKWHEEL_SHARDS: String(shards),
    TICKWHEEL_LEASE_TTL_MS: String(FAULT_LEASE_TTL_MS),
    TICKWHEEL_LEASE_RENEW_MS: "1000",
    TICKWHEEL_VISIBILITY_MS: "2000",
    ...extra,
  };
}

export interface FaultFixture {
  redis: RedisProcess;
  /** A plain connection for reading the start records (errors ignored: some tests stop Redis). */
  raw: Redis;
  /** Node processes the file started; killed after its tests. */
  nodes: NodeProcess[];
}

/**
 * A fault-test file's own redis-server and raw connection, started before
 * its tests; after them every node it pushed to `nodes` is killed (a paused
 * one resumed first) and Redis is stopped and removed. Read the fields inside
 * tests: they are set once beforeAll has run.
 */
export function faultFixture(redisOptions: StartRedisOptions = {}): FaultFixture {
  const fixture = { nodes: [] as NodeProcess[] } as FaultFixture;
  beforeAll(async () => {
    fixture.redis = await startRedis(redisOptions);
    fixture.raw = new Redis(fixture.redis.url);
    fixture.raw.on("error", () => {});
  });
  afterAll(async () => {
    for (const node of fixture.nodes) {
      node.resume();
      node.kill9();
    }
    fixture.raw?.disconnect();
    await fixture.redis?.cleanup();
  });
  return fixture;
}

/**
 * Starts recording nodes (the first alone, so it records the cluster
 * settings, the others at once), adds them to the fixture's nodes and waits
 * until they split the shards evenly.
 */
export async function startBalanced<const Ids extends readonly [string, ...string[]]>(
  fixture: FaultFixture,
  options: ClusterNodeOptions,
  nodeIds: Ids,
  shardCount: number,
): Promise<{ [K in keyof Ids]: NodeProcess }> {
  const first = await startRecordingNode(options, nodeIds[0]);
  fixture.nodes.push(first);
  const rest = await Promise.all(nodeIds.slice(1).map((id) => startRecordingNode(options, id)));
  fixture.nodes.push(...rest);
  await waitBalanced(first.url, [...nodeIds], shardCount);
  return [first, ...rest] as { [K in keyof Ids]: NodeProcess };
}

export async function readRecords(raw: Redis, prefix: string): Promise<StartRecord[]> {
  return (await raw.lrange(`${prefix}:record`, 0, -1)).map((line) => {
    const [id, node, attempt, atMs] = line.split("|");
    return { id: id!, node: node!, attempt: Number(attempt), atMs: Number(atMs) };
  });
}

export function groupById(records: StartRecord[]): Map<string, StartRecord[]> {
  const byId = new Map<string, StartRecord[]>();
  for (const record of records) {
    let list = byId.get(record.id);
    if (!list) byId.set(record.id, (list = []));
    list.push(record);
  }
  return byId;
}

export interface ShardRow {
  shard: number;
  owner: string | null;
  epoch: number | null;
  dueCount: number;
  inFlight: number;
}

export async function shardRows(url: string): Promise<ShardRow[]> {
  const response = await fetch(`${url}/admin/shards`);
  if (!response.ok) throw new Error(`/admin/shards answered ${response.status}`);
  return ((await response.json()) as { shards: ShardRow[] }).shards;
}

/** Shards per owner as one node's /admin/shards shows them (leases read from Redis). */
export function ownersOf(rows: ShardRow[]): Map<string, number[]> {
  const owners = new Map<string, number[]>();
  for (const row of rows) {
    if (row.owner === null) continue;
    let list = owners.get(row.owner);
    if (!list) owners.set(row.owner, (list = []));
    list.push(row.shard);
  }
  return owners;
}

/** Waits until every shard is leased, only by `nodeIds`, each holding at most ceil(shards / nodes). */
export async function waitBalanced(url: string, nodeIds: string[], shardCount: number, timeoutMs = 20_000): Promise<Map<string, number[]>> {
  let owners = new Map<string, number[]>();
  const cap = Math.ceil(shardCount / nodeIds.length);
  await waitFor(
    async () => {
      const rows = await shardRows(url);
      owners = ownersOf(rows);
      const leased = rows.filter((row) => row.owner !== null).length;
      return leased === shardCount && [...owners.keys()].every((id) => nodeIds.includes(id)) && [...owners.values()].every((s) => s.length <= cap);
    },
    { timeoutMs, intervalMs: 100, message: `shards balanced over ${nodeIds.join(", ")}` },
  );
  return owners;
}

/** Tasks still due or running over every shard, read from Redis: each has a record in its shard's tasks hash. */
export async function unfinishedCount(raw: Redis, prefix: string, shardCount: number): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: shardCount }, (_, shard) => raw.hlen(`${prefix}:{${shard}}:tasks`)),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Waits until no task is due or running on any shard (everything finished). */
export async function waitAllFinished(raw: Redis, prefix: string, shardCount: number, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await unfinishedCount(raw, prefix, shardCount)) === 0, {
    timeoutMs,
    intervalMs: 200,
    message: "every task finished (none due, none running)",
  });
}

/** Ids and due times of `count` tasks spread evenly over [fromMs, fromMs + spanMs). */
export function spreadDueTimes(count: number, fromMs: number, spanMs: number): number[] {
  return Array.from({ length: count }, (_, i) => fromMs + Math.floor((i * spanMs) / count));
}
