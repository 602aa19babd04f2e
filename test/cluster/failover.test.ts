// Death of a node under load: 3 node processes, 20,000 tasks due over 10 s, one node kill -9-ed
// 3 s in. Every task runs at least once; the only duplicates are tasks the dead node had started
// (in flight: started, not yet acknowledged); the others take its shards within TTL + 1 s.
import { expect, test } from "bun:test";
import { Client } from "../../src/client/client.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { FAULT_LEASE_TTL_MS, faultEnv, faultFixture, groupById, ownersOf, readRecords, shardRows, spreadDueTimes, startBalanced, waitAllFinished } from "./cluster-helpers.ts";

const SHARDS = 12;
const TASKS = 20_000;
const SPAN_MS = 10_000;
const TTL_MS = FAULT_LEASE_TTL_MS;
// Tasks the dead node had claimed come back 2 s after their claim.
const ENV = faultEnv(SHARDS);
const fx = faultFixture();

test("kill -9 of one of 3 nodes under load: every task runs, duplicates only from the dead node's in-flight work, takeover < TTL + 1 s", async () => {
  const prefix = randomPrefix("fail");
  const { redis, raw, nodes } = fx;
  const options = { redisUrl: redis.url, prefix, env: ENV };
  const [n1, victim] = await startBalanced(fx, options, ["n1", "n2", "n3"], SHARDS);

  const client = new Client({ redisUrl: redis.url, prefix });
  const startAt = Date.now() + 2000;
  const dueTimes = spreadDueTimes(TASKS, startAt, SPAN_MS);
  const ids = dueTimes.map((_, i) => `f-${i}`);
  // (If scheduling runs past startAt on a slow machine, the first tasks are simply late: still valid.)
  for (let i = 0; i < TASKS; i += 2000) {
    const results = await client.scheduleMany(
      ids.slice(i, i + 2000).map((id, j) => ({ task: "rec.run", args: { sleepMs: 20 }, options: { id, runAt: dueTimes[i + j]! } })),
    );
    expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);
  }

  await Bun.sleep(startAt + 3000 - Date.now());
  const victimShards = ownersOf(await shardRows(n1.url)).get("n2") ?? [];
  expect(victimShards.length).toBeGreaterThan(0);
  const killedAt = Date.now();
  victim.kill9();
  await victim.proc.exited;

  // Lease takeover as Redis shows it: when every shard of the dead node has another owner.
  let leaseTakeoverMs = -1;
  await waitFor(
    async () => {
      const owners = new Map((await shardRows(n1.url)).map((row) => [row.shard, row.owner]));
      const done = victimShards.every((shard) => owners.get(shard) !== null && owners.get(shard) !== "n2");
      if (done) leaseTakeoverMs = Date.now() - killedAt;
      return done;
    },
    { timeoutMs: 15_000, intervalMs: 25, message: "the dead node's shards to be leased by the others" },
  );

  await waitAllFinished(raw, prefix, SHARDS, 45_000);
  const byId = groupById(await readRecords(raw, prefix));
  const missing = ids.filter((id) => !byId.has(id));
  expect(missing).toEqual([]);

  const duplicates = [...byId].filter(([, starts]) => starts.length > 1);
  for (const [id, starts] of duplicates) {
    // The first run was on the dead node, started before it died; the rerun elsewhere after.
    const [first, ...rest] = starts.sort((a, b) => a.atMs - b.atMs);
    expect({ id, node: first!.node, beforeKill: first!.atMs <= killedAt }).toEqual({ id, node: "n2", beforeKill: true });
    expect(rest.every((s) => s.node !== "n2" && s.atMs > killedAt)).toBe(true);
    expect(rest.length).toBe(1);
  }
  // Nothing ran on the dead node after it died, obviously; nothing ran twice on the living ones.
  for (const starts of byId.values()) expect(starts.filter((s) => s.node !== "n2").length).toBeLessThanOrEqual(1);

  // Takeover by the record: first start by a survivor on each of the dead node's shards.
  const firstStartAfterKill = new Map<number, number>();
  for (const starts of byId.values()) {
    for (const start of starts) {
      if (start.node === "n2" || start.atMs <= killedAt) continue;
      const shard = new ShardMap(SHARDS).shardOf(start.id);
      if (!victimShards.includes(shard)) continue;
      firstStartAfterKill.set(shard, Math.min(firstStartAfterKill.get(shard) ?? Infinity, start.atMs));
    }
  }
  expect([...firstStartAfterKill.keys()].sort((a, b) => a - b)).toEqual([...victimShards].sort((a, b) => a - b));
  const recordTakeoverMs = Math.max(...[...firstStartAfterKill.values()].map((at) => at - killedAt));
  const perNode = new Map<string, number>();
  for (const starts of byId.values()) for (const s of starts) perNode.set(s.node, (perNode.get(s.node) ?? 0) + 1);
  console.log(
    `kill -9 of n2 (shards ${victimShards.join(",")}): leases taken over after ${leaseTakeoverMs} ms, ` +
      `first task started on every one of them ${recordTakeoverMs} ms after the kill (TTL ${TTL_MS} ms); ` +
      `${duplicates.length} duplicate starts (all in flight on n2); starts per node ${JSON.stringify(Object.fromEntries(perNode))}`,
  );
  expect(leaseTakeoverMs).toBeLessThan(TTL_MS + 1000);
  expect(recordTakeoverMs).toBeLessThan(TTL_MS + 1000);
  await client.close();
  for (const node of nodes) if (node !== victim) expect(await node.terminate()).toBe(0);
}, 60_000);
