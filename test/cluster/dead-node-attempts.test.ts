// Fast recovery of a dead node's attempts: 3 node processes under load, one kill -9-ed while it has
// tasks in flight. With the visibility deadline at its default (30 s), the attempts the dead node
// had claimed run again within the lease TTL + 1 s of the kill (its registry entry lapses with
// its leases, and the new owners reap its batches at once), tasks due just after the crash run
// within that bound too, and the only duplicates are tasks the dead node had started.
import { expect, test } from "bun:test";
import { Client } from "../../src/client/client.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { randomPrefix } from "../helpers/node.ts";
import { FAULT_LEASE_TTL_MS, faultEnv, faultFixture, groupById, ownersOf, readRecords, shardRows, startBalanced, waitAllFinished } from "./cluster-helpers.ts";

const SHARDS = 12;
const TTL_MS = FAULT_LEASE_TTL_MS;
const VISIBILITY_MS = 30_000;
// Each task runs 4 s: every task the victim started in the 4 s before the kill is still in flight.
const SLEEP_MS = 4000;
const RATE_PER_S = 24;
const SPAN_MS = 8000;
const ENV = faultEnv(SHARDS, { TICKWHEEL_VISIBILITY_MS: String(VISIBILITY_MS) });
const fx = faultFixture();

test("kill -9 of one of 3 nodes: its claimed attempts run again within TTL + 1 s, not after the visibility deadline", async () => {
  const prefix = randomPrefix("dead");
  const { redis, raw, nodes } = fx;
  const [n1, victim] = await startBalanced(fx, { redisUrl: redis.url, prefix, env: ENV }, ["n1", "n2", "n3"], SHARDS);
  const victimShards = ownersOf(await shardRows(n1.url)).get("n2") ?? [];
  expect(victimShards.length).toBeGreaterThan(0);

  const client = new Client({ redisUrl: redis.url, prefix });
  const startAt = Date.now() + 1500;
  const count = (RATE_PER_S * SPAN_MS) / 1000;
  const dueById = new Map<string, number>();
  const results = await client.scheduleMany(
    Array.from({ length: count }, (_, i) => {
      const id = `d-${i}`;
      const runAt = startAt + Math.floor((i * 1000) / RATE_PER_S);
      dueById.set(id, runAt);
      return { task: "rec.run", args: { sleepMs: SLEEP_MS }, options: { id, runAt } };
    }),
  );
  expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);

  await Bun.sleep(startAt + 4500 - Date.now());
  const killedAt = Date.now();
  victim.kill9();
  await victim.proc.exited;

  await waitAllFinished(raw, prefix, SHARDS, VISIBILITY_MS - 5000);
  const byId = groupById(await readRecords(raw, prefix));
  expect([...dueById.keys()].filter((id) => !byId.has(id))).toEqual([]);

  // Tasks the victim started and had not finished when it died (they sleep 4 s: those it started in the 4 s before).
  const inFlight = [...byId].filter(([, starts]) => starts.some((s) => s.node === "n2" && s.atMs <= killedAt && s.atMs + SLEEP_MS > killedAt));
  expect(inFlight.length).toBeGreaterThan(10);
  const rerunAfterMs = inFlight.map(([id, starts]) => {
    const rerun = starts.filter((s) => s.node !== "n2").sort((a, b) => a.atMs - b.atMs)[0];
    if (!rerun) throw new Error(`${id}, in flight on the dead node, never ran again`);
    return rerun.atMs - killedAt;
  });
  // Tasks of the victim's shards due in the TTL after the crash: they wait for the takeover, no longer.
  const dueAfterCrash = [...dueById].filter(([id, due]) => due > killedAt && due < killedAt + TTL_MS && victimShards.includes(new ShardMap(SHARDS).shardOf(id)));
  expect(dueAfterCrash.length).toBeGreaterThan(0);
  const dueAfterCrashStartMs = dueAfterCrash.map(([id]) => Math.min(...byId.get(id)!.map((s) => s.atMs)) - killedAt);

  // Duplicates only among tasks the dead node had started; never twice on the living.
  for (const [id, starts] of byId) {
    if (starts.length === 1) continue;
    const [first, ...rest] = [...starts].sort((a, b) => a.atMs - b.atMs);
    expect({ id, node: first!.node, beforeKill: first!.atMs <= killedAt, reruns: rest.length }).toEqual({ id, node: "n2", beforeKill: true, reruns: 1 });
  }
  console.log(
    `kill -9 of n2 (shards ${victimShards.join(",")}) with ${inFlight.length} attempts in flight: run again ` +
      `${Math.min(...rerunAfterMs)}–${Math.max(...rerunAfterMs)} ms after the kill (TTL ${TTL_MS} ms, visibility ${VISIBILITY_MS} ms); ` +
      `${dueAfterCrash.length} tasks due in the TTL after the crash started by ${Math.max(...dueAfterCrashStartMs)} ms`,
  );
  expect(Math.max(...rerunAfterMs)).toBeLessThan(TTL_MS + 1000);
  expect(Math.max(...dueAfterCrashStartMs)).toBeLessThan(TTL_MS + 1000);
  await client.close();
  for (const node of nodes) if (node !== victim) expect(await node.terminate()).toBe(0);
}, 90_000);
