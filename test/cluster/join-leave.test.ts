// Nodes coming and going under load: a joining node gets its share (at most ceil(shards / nodes)
// each once settled) with nothing lost or doubled across the hand-over; a node leaving on SIGTERM
// releases its shards and the others take them within about one renew interval. And one id per
// live node: a second process with a live node's id refuses to start.
import { expect, test } from "bun:test";
import { Client } from "../../src/client/client.ts";
import { randomPrefix, ROOT } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  faultEnv,
  faultFixture,
  groupById,
  ownersOf,
  readRecords,
  RECORDING_TASKS,
  shardRows,
  spreadDueTimes,
  startBalanced,
  startRecordingNode,
  waitAllFinished,
  waitBalanced,
} from "./cluster-helpers.ts";

const SHARDS = 12;
const RENEW_MS = 1000;
const ENV = faultEnv(SHARDS, { TICKWHEEL_LEASE_RENEW_MS: String(RENEW_MS) });
const fx = faultFixture();

async function scheduleSpread(client: Client, tag: string, count: number, fromMs: number, spanMs: number): Promise<string[]> {
  const dueTimes = spreadDueTimes(count, fromMs, spanMs);
  const ids = dueTimes.map((_, i) => `${tag}-${i}`);
  const results = await client.scheduleMany(ids.map((id, i) => ({ task: "rec.run", args: { sleepMs: 5 }, options: { id, runAt: dueTimes[i]! } })));
  expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);
  return ids;
}

async function expectExactlyOnce(prefix: string, ids: string[]): Promise<void> {
  const byId = groupById(await readRecords(fx.raw, prefix));
  expect(ids.filter((id) => !byId.has(id))).toEqual([]);
  expect([...byId].filter(([, starts]) => starts.length > 1).map(([id, starts]) => ({ id, starts }))).toEqual([]);
}

test("a node joining under load: it gets its share, no node owns more than ceil(shards / nodes), nothing lost or doubled", async () => {
  const prefix = randomPrefix("join");
  const { redis, raw, nodes } = fx;
  const options = { redisUrl: redis.url, prefix, env: ENV };
  const [n1, n2] = await startBalanced(fx, options, ["n1", "n2"], SHARDS);

  const client = new Client({ redisUrl: redis.url, prefix });
  const startAt = Date.now() + 1000;
  const ids = await scheduleSpread(client, "j", 8000, startAt, 8000);
  await Bun.sleep(startAt + 2000 - Date.now());
  const joinedAt = Date.now();
  const n3 = await startRecordingNode(options, "n3");
  nodes.push(n3);
  const owners = await waitBalanced(n1.url, ["n1", "n2", "n3"], SHARDS);
  const settledMs = Date.now() - joinedAt;
  expect(owners.get("n3")?.length).toBe(SHARDS / 3);

  await waitAllFinished(raw, prefix, SHARDS, 30_000);
  await expectExactlyOnce(prefix, ids);
  const perNode = new Map<string, number>();
  for (const start of await readRecords(raw, prefix)) perNode.set(start.node, (perNode.get(start.node) ?? 0) + 1);
  expect(perNode.get("n3") ?? 0).toBeGreaterThan(0);
  // Tasks due while a shard changes hands wait from the old owner's last claim to the new one's first.
  const registry = (await (await fetch(`${n1.url}/admin/nodes`)).json()) as { nodes: { id: string; lateness: { maxMs: number | null } }[] };
  const maxLateness = Object.fromEntries(registry.nodes.map((node) => [node.id, node.lateness.maxMs]));
  console.log(
    `join of n3 under load: settled ${settledMs} ms after its process was started (incl. ~0.5 s process start-up); ` +
      `owners ${JSON.stringify(Object.fromEntries(owners))}; starts per node ${JSON.stringify(Object.fromEntries(perNode))}; ` +
      `max start lateness per node ${JSON.stringify(maxLateness)} ms; 8000 tasks, each once`,
  );
  await client.close();
  for (const node of [n1, n2, n3]) expect(await node.terminate()).toBe(0);
}, 60_000);

test("SIGTERM: the node leaves the registry, releases its leases, the others take over within about one renew interval", async () => {
  const prefix = randomPrefix("leave");
  const { redis, raw } = fx;
  const options = { redisUrl: redis.url, prefix, env: ENV };
  const [n1, n2, n3] = await startBalanced(fx, options, ["n1", "n2", "n3"], SHARDS);
  const before = await waitBalanced(n1.url, ["n1", "n2", "n3"], SHARDS);
  const leaving = before.get("n3")!;

  const client = new Client({ redisUrl: redis.url, prefix });
  const startAt = Date.now() + 1000;
  const ids = await scheduleSpread(client, "l", 6000, startAt, 6000);
  await Bun.sleep(startAt + 2000 - Date.now());
  const terminatedAt = Date.now();
  const exited = n3!.terminate();
  let takeoverMs = -1;
  await waitFor(
    async () => {
      const owners = new Map((await shardRows(n1.url)).map((row) => [row.shard, row.owner]));
      const done = leaving.every((shard) => owners.get(shard) === "n1" || owners.get(shard) === "n2");
      if (done) takeoverMs = Date.now() - terminatedAt;
      return done;
    },
    { timeoutMs: 10_000, intervalMs: 20, message: "n1 and n2 to hold the leaving node's shards" },
  );
  expect(await exited).toBe(0);
  // Gone from the registry at once, not after its entry's TTL.
  const registry = (await (await fetch(`${n1.url}/admin/nodes`)).json()) as { nodes: { id: string; shards: number[] }[] };
  expect(registry.nodes.map((node) => node.id)).toEqual(["n1", "n2"]);

  await waitAllFinished(raw, prefix, SHARDS, 30_000);
  await expectExactlyOnce(prefix, ids);
  const after = ownersOf(await shardRows(n1.url));
  expect(Math.max(...[...after.values()].map((s) => s.length))).toBeLessThanOrEqual(SHARDS / 2);
  console.log(`SIGTERM of n3 (shards ${leaving.join(",")}): taken over by n1/n2 ${takeoverMs} ms after the signal (renew interval ${RENEW_MS} ms); 6000 tasks, each once`);
  expect(takeoverMs).toBeLessThan(RENEW_MS + 1000);
  await client.close();
  for (const node of [n1, n2!]) expect(await node.terminate()).toBe(0);
}, 60_000);

test("two live nodes with one id: the newcomer refuses to start with one readable line; after a kill -9 the id is free again", async () => {
  const prefix = randomPrefix("dupid");
  const { redis, nodes } = fx;
  const options = { redisUrl: redis.url, prefix, env: ENV };
  const first = await startRecordingNode(options, "same-id");
  nodes.push(first);

  const spawnSecond = () =>
    Bun.spawn(["bun", `${ROOT}/src/main.ts`], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...ENV,
        PORT: "0",
        REDIS_URL: redis.url,
        TICKWHEEL_PREFIX: prefix,
        TICKWHEEL_NODE_ID: "same-id",
        TICKWHEEL_TASKS: RECORDING_TASKS,
        TICKWHEEL_LOG_LEVEL: "silent",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
  const second = spawnSecond();
  const startedAt = Date.now();
  const [code, stderr] = await Promise.all([second.exited, new Response(second.stderr).text()]);
  const refusedAfterMs = Date.now() - startedAt;
  expect(code).not.toBe(0);
  const lines = stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^tickwheel: could not start: node id "same-id" is already used by a live node .*TICKWHEEL_NODE_ID/);
  // The first node is unaffected.
  expect(first.proc.exitCode).toBeNull();
  expect((await fetch(`${first.url}/ready`)).status).toBe(200);

  // A dead node's id is not held forever: once its entry lapses, a restart under the same id starts.
  first.kill9();
  await first.proc.exited;
  const restartedAt = Date.now();
  const again = await startRecordingNode(options, "same-id");
  nodes.push(again);
  const restartMs = Date.now() - restartedAt;
  await waitBalanced(again.url, ["same-id"], SHARDS);
  console.log(`duplicate id refused after ${refusedAfterMs} ms (${lines[0]}); restart under the id of a kill -9-ed node up after ${restartMs} ms`);
  expect(await again.terminate()).toBe(0);
}, 60_000);
