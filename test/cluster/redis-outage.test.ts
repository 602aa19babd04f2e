// Redis goes away for 5 s under load and comes back with its AOF. The nodes stay up, say they are
// not ready while it is gone, back off, and when it returns they take their shards again and run
// everything, including what fell due during the outage (late, not lost).
import { expect, test } from "bun:test";
import { Client } from "../../src/client/client.ts";
import { randomPrefix, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { faultEnv, faultFixture, groupById, readRecords, spreadDueTimes, startBalanced, waitAllFinished } from "./cluster-helpers.ts";

const SHARDS = 8;
const TASKS = 3000;
const SPAN_MS = 12_000;
const OUTAGE_MS = 5000;
const ENV = faultEnv(SHARDS);
const fx = faultFixture({ appendonly: true, appendfsync: "always" });

const readyOf = async (node: NodeProcess) => (await fetch(`${node.url}/ready`)).status;

test("Redis stopped for 5 s and restarted with AOF: no node exits, /ready goes false and back, no task is lost", async () => {
  const prefix = randomPrefix("outage");
  const { redis, raw } = fx;
  const options = { redisUrl: redis.url, prefix, env: ENV };
  const [n1, n2] = await startBalanced(fx, options, ["n1", "n2"], SHARDS);

  const client = new Client({ redisUrl: redis.url, prefix });
  const startAt = Date.now() + 1000;
  const dueTimes = spreadDueTimes(TASKS, startAt, SPAN_MS);
  const ids = dueTimes.map((_, i) => `o-${i}`);
  const dueOf = new Map(ids.map((id, i) => [id, dueTimes[i]!]));
  const results = await client.scheduleMany(ids.map((id, i) => ({ task: "rec.run", args: { sleepMs: 5 }, options: { id, runAt: dueTimes[i]! } })));
  expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);
  await client.close();

  await Bun.sleep(startAt + 2000 - Date.now());
  const stopRequestedAt = Date.now();
  await redis.stop();
  // Redis is surely down from here; until here a node could still claim.
  const stoppedAt = Date.now();
  // Both nodes notice and say so; they keep serving HTTP.
  await waitFor(async () => (await readyOf(n1)) === 503 && (await readyOf(n2)) === 503, {
    timeoutMs: OUTAGE_MS - 500,
    message: "both nodes to report not ready while Redis is down",
  });
  expect((await fetch(`${n1.url}/health`)).status).toBe(200);
  await Bun.sleep(stopRequestedAt + OUTAGE_MS - Date.now());
  await redis.restart();
  const restartedAt = Date.now();

  await waitFor(async () => (await readyOf(n1)) === 200 && (await readyOf(n2)) === 200, {
    timeoutMs: 15_000,
    message: "both nodes ready again after Redis returned",
  });
  const readyAgainMs = Date.now() - restartedAt;
  await waitAllFinished(raw, prefix, SHARDS, 40_000);
  expect(n1.proc.exitCode).toBeNull();
  expect(n2.proc.exitCode).toBeNull();

  const byId = groupById(await readRecords(raw, prefix));
  expect(ids.filter((id) => !byId.has(id))).toEqual([]);
  // What fell due while Redis was down ran after it came back: late, not lost.
  // Tasks claimed just before the stop, up to the claim lead (at most a few hundred ms on a busy
  // machine) ahead of their due time, may rightly start from the node's memory during the outage.
  const dueDuringOutage = ids.filter((id) => dueOf.get(id)! > stoppedAt + 300 && dueOf.get(id)! < restartedAt);
  expect(dueDuringOutage.length).toBeGreaterThan(1000);
  const firstStart = (id: string) => Math.min(...byId.get(id)!.map((s) => s.atMs));
  expect(dueDuringOutage.filter((id) => firstStart(id) < restartedAt)).toEqual([]);
  const catchUpMs = Math.max(...dueDuringOutage.map(firstStart)) - restartedAt;
  const duplicates = [...byId.values()].filter((starts) => starts.length > 1).length;
  console.log(
    `Redis down ${restartedAt - stoppedAt} ms: nodes ready again ${readyAgainMs} ms after the restart; ` +
      `${dueDuringOutage.length} tasks due during the outage all ran, the last ${catchUpMs} ms after the restart; ` +
      `${duplicates} tasks ran twice (in flight when Redis went away); none lost`,
  );
  for (const node of [n1, n2]) expect(await node.terminate()).toBe(0);
}, 60_000);
