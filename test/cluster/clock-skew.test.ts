// One clock for firing: a node whose own clock runs 1.5 s ahead (libfaketime, as `faketime -f
// '+1.5s'`, monotonic time left real) fires by Redis' clock. Measured by Redis' TIME in the handler: 0 tasks start before their
// due time, lateness stays what it is for a node without skew in the same run, the offset shows in
// /admin/nodes (and the metric), and a `delay` given to the skewed node's API counts from Redis' now.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const TASKS_MODULE = join(ROOT, "test/fixtures/redis-clock-tasks.ts");
// Debian's faketime package (installed by scripts/setup.sh with TICKWHEEL_SETUP_TEST_TOOLS=1).
const LIBFAKETIME = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu/faketime/libfaketime.so.1`;
const SKEW_MS = 1500;
const COUNT = 400;
const SPAN_MS = 3000;

let redis: RedisProcess;
let raw: Redis;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  if (!existsSync(LIBFAKETIME)) throw new Error(`${LIBFAKETIME} is missing: install Debian's faketime (TICKWHEEL_SETUP_TEST_TOOLS=1 bash scripts/setup.sh)`);
  redis = await startRedis();
  raw = new Redis(redis.url);
});

afterAll(async () => {
  for (const node of nodes) node.kill9();
  raw?.disconnect();
  await redis?.cleanup();
});

async function redisNowMs(): Promise<number> {
  const [seconds, micros] = await raw.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

/** Runs COUNT tasks due over SPAN_MS on one node; answers each start's lateness by Redis' clock. */
async function run(skewed: boolean): Promise<{ node: NodeProcess; prefix: string; lateness: number[] }> {
  const prefix = randomPrefix(skewed ? "skew" : "noskew");
  const env: Record<string, string> = { TICKWHEEL_SHARDS: "4" };
  // What `faketime -f '+1.5s' bun …` does, without its wrapper process: faketime(1) does not pass
  // SIGTERM on to the program it runs (checked: the node would be orphaned, not stopped).
  if (skewed) Object.assign(env, { LD_PRELOAD: LIBFAKETIME, FAKETIME: `+${SKEW_MS / 1000}s`, FAKETIME_DONT_FAKE_MONOTONIC: "1" });
  const node = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS_MODULE, nodeId: skewed ? "skewed" : "plain", env });
  nodes.push(node);
  await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 200, { timeoutMs: 10_000, message: "node ready" });
  const client = new Client({ redisUrl: redis.url, prefix });
  // Due times from Redis' clock (this process's clock is the real one too, but say what is meant).
  const from = Math.ceil(await redisNowMs()) + 1500;
  const results = await client.scheduleMany(
    Array.from({ length: COUNT }, (_, i) => ({ task: "clock.rec", options: { id: `c-${i}`, runAt: from + Math.floor((i * SPAN_MS) / COUNT) } })),
  );
  expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);
  await waitFor(async () => (await raw.llen(`${prefix}:clock`)) >= COUNT, { timeoutMs: 20_000, intervalMs: 100, message: "every task to start" });
  await client.close();
  const lateness = (await raw.lrange(`${prefix}:clock`, 0, -1)).map((line) => {
    const [, , , redisMs, dueMs] = line.split("|");
    return Number(redisMs) - Number(dueMs);
  });
  return { node, prefix, lateness };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

test("a node 1.5 s ahead fires by Redis' clock: nothing early, lateness as without skew, offset in /admin/nodes", async () => {
  const plain = await run(false);
  await plain.node.terminate();
  const skewed = await run(true);

  const early = skewed.lateness.filter((ms) => ms < 0);
  const p99 = { plain: percentile(plain.lateness, 99), skewed: percentile(skewed.lateness, 99) };
  console.log(`lateness by Redis' clock, p50/p99/max ms: plain ${percentile(plain.lateness, 50).toFixed(1)}/${p99.plain.toFixed(1)}/${Math.max(...plain.lateness).toFixed(1)}, skewed +${SKEW_MS} ms ${percentile(skewed.lateness, 50).toFixed(1)}/${p99.skewed.toFixed(1)}/${Math.max(...skewed.lateness).toFixed(1)}`);
  expect(skewed.lateness).toHaveLength(COUNT);
  expect(early).toEqual([]);
  expect(plain.lateness.filter((ms) => ms < 0)).toEqual([]);
  // "As without skew": generous, the machine is shared; a node firing by its own clock would be 1,500 ms early.
  expect(p99.skewed).toBeLessThan(Math.max(3 * p99.plain, p99.plain + 25));

  const view = (await (await fetch(`${skewed.node.url}/admin/nodes`)).json()) as any;
  const self = view.nodes.find((n: any) => n.id === "skewed");
  expect(Math.abs(self.clock.offsetMs - SKEW_MS)).toBeLessThan(100);
  expect(self.clock.skewed).toBe(true);
  expect(self.clock.errorMs).toBeLessThan(50);
  expect(skewed.node.output()).toContain("clock differs from Redis'");
  const metrics = await (await fetch(`${skewed.node.url}/metrics`)).text();
  const offsetSeconds = Number(/^tickwheel_clock_offset_seconds (\S+)$/m.exec(metrics)?.[1]);
  expect(Math.abs(offsetSeconds - SKEW_MS / 1000)).toBeLessThan(0.1);

  // A delay given to the skewed node counts from Redis' now, not from the node's clock.
  const before = await redisNowMs();
  const created = (await (
    await fetch(`${skewed.node.url}/v1/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "clock.rec", delay: 60_000 }) })
  ).json()) as { dueAt: number };
  const after = await redisNowMs();
  expect(created.dueAt).toBeGreaterThanOrEqual(Math.floor(before) + 60_000 - 5);
  expect(created.dueAt).toBeLessThanOrEqual(Math.ceil(after) + 60_000 + 5);
  expect(await skewed.node.terminate()).toBe(0);
}, 90_000);

test("a standalone TS client 1.5 s ahead counts a delay from Redis' clock (TIME), not its own", async () => {
  const prefix = randomPrefix("skewclient");
  const script = `
    import { Client } from ${JSON.stringify(join(ROOT, "src/client/client.ts"))};
    const client = new Client({ redisUrl: ${JSON.stringify(redis.url)}, prefix: ${JSON.stringify(prefix)} });
    const result = await client.schedule("clock.rec", {}, { delay: 60000 });
    console.log(JSON.stringify({ dueAt: result.dueAt, localNow: Date.now() }));
    await client.close();
  `;
  const before = await redisNowMs();
  const proc = Bun.spawn(["bun", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: `+${SKEW_MS / 1000}s`, FAKETIME_DONT_FAKE_MONOTONIC: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const after = await redisNowMs();
  expect({ code, err }).toEqual({ code: 0, err: "" });
  const { dueAt, localNow } = JSON.parse(out) as { dueAt: number; localNow: number };
  // Its own clock was ahead (so the check below is not vacuous) …
  expect(localNow - after).toBeGreaterThan(SKEW_MS - 200);
  // … and the due time is Redis' now + 60 s all the same.
  expect(dueAt).toBeGreaterThanOrEqual(Math.floor(before) + 60_000 - 5);
  expect(dueAt).toBeLessThanOrEqual(Math.ceil(after) + 60_000 + 5);
}, 30_000);
