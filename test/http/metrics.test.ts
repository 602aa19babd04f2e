// /metrics in Prometheus text (prom-client): task counters by name, the lateness histogram in seconds
// (base units), pool gauges, due count per shard, lease changes; and the log: exactly one JSON line per
// failed attempt, carrying task id, name, attempt and error.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Writable } from "node:stream";
import pino from "pino";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { createApp } from "../../src/http/app.ts";
import { loadConfig } from "../../src/config/config.ts";
import { TickwheelNode } from "../../src/node/node.ts";
import { startServedNode } from "../../src/node/serve-node.ts";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

defineTask("metrics.ok", z.object({}), () => "fine");
const flakyTask = defineTask("metrics.flaky", z.object({}), (_args, ctx) => {
  throw new Error(`broken on attempt ${ctx.attempt}`);
}, { maxAttempts: 2, backoff: { baseMs: 1, maxMs: 5 } });
let release: () => void = () => {};
const held = new Promise<void>((resolve) => (release = resolve));
defineTask("metrics.hold", z.object({}), () => held);

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;
const logLines: Record<string, any>[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("metrics");
  const config = loadConfig({ REDIS_URL: redis.url, PORT: "0", TICKWHEEL_PREFIX: prefix, TICKWHEEL_SHARDS: "4", TICKWHEEL_CONCURRENCY: "8" });
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  node = new TickwheelNode(config, pino({ level: "info" }, sink));
  await startServedNode(node);
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  release();
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

async function scrape(): Promise<string> {
  const response = await createApp(node).request("/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

test("task counters by name, lateness histogram in seconds, pool, due per shard, leases", async () => {
  const app = createApp(node);
  const post = (body: unknown) => app.request("/v1/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  for (let i = 0; i < 5; i++) expect((await post({ name: "metrics.ok", delay: 20 })).status).toBe(201);
  const flaky = (await (await post({ name: "metrics.flaky", delay: 0 })).json()) as { id: string };
  const far = await client.scheduleMany(Array.from({ length: 7 }, () => ({ task: "metrics.ok", options: { delay: "1d" } })));
  const hold = (await (await post({ name: "metrics.hold", delay: 0 })).json()) as { id: string };
  await waitFor(async () => (await client.get(flaky.id))?.state === "dead" && (await client.get(hold.id))?.state === "running", { timeoutMs: 5000, message: "flaky to die, hold to run" });
  await waitFor(async () => value(await scrape(), 'tickwheel_tasks_succeeded_total{task="metrics.ok"}') === 5, { timeoutMs: 5000, message: "5 successes counted" });

  const text = await scrape();
  expect(text).toContain("# TYPE tickwheel_tasks_fired_total counter");
  expect(text).toContain("# TYPE tickwheel_task_lateness_seconds histogram");
  expect(value(text, 'tickwheel_tasks_scheduled_total{task="metrics.ok"}')).toBe(5); // the 7 from the client did not pass through this node's API
  expect(value(text, 'tickwheel_tasks_fired_total{task="metrics.ok"}')).toBe(5);
  expect(value(text, 'tickwheel_tasks_fired_total{task="metrics.flaky"}')).toBe(2);
  expect(value(text, 'tickwheel_tasks_failed_total{task="metrics.flaky"}')).toBe(2);
  expect(value(text, 'tickwheel_tasks_retried_total{task="metrics.flaky"}')).toBe(1);
  expect(value(text, 'tickwheel_tasks_dead_total{task="metrics.flaky"}')).toBe(1);
  expect(value(text, "tickwheel_task_lateness_seconds_count")).toBe(8);
  // millisecond buckets, cumulative, ending in +Inf = count
  expect(text).toContain('tickwheel_task_lateness_seconds_bucket{le="0.001"}');
  expect(text).toContain('tickwheel_task_lateness_seconds_bucket{le="0.005"}');
  expect(value(text, 'tickwheel_task_lateness_seconds_bucket{le="+Inf"}')).toBe(8);
  expect(value(text, 'tickwheel_task_lateness_seconds_bucket{le="10"}')).toBeLessThanOrEqual(8);
  expect(value(text, "tickwheel_pool_in_flight")).toBe(1);
  expect(value(text, "tickwheel_pool_concurrency")).toBe(8);
  expect(value(text, "tickwheel_pool_utilisation")).toBeCloseTo(1 / 8);
  expect(value(text, "tickwheel_shards_owned")).toBe(4);
  let due = 0;
  for (let shard = 0; shard < 4; shard++) due += value(text, `tickwheel_shard_due{shard="${shard}"}`);
  expect(due).toBe(far.length);
  expect(value(text, 'tickwheel_lease_changes_total{event="acquired"}')).toBe(4);
  // Counted by kind, every kind present from the start at 0.
  for (const kind of ["oom", "readonly", "misconf", "loading", "clusterdown", "connection", "other"]) {
    expect(value(text, `tickwheel_redis_errors_total{kind="${kind}"}`)).toBe(0);
  }
  // Redis' maxmemory-policy as the node read it at start (the test server's default).
  expect(value(text, 'tickwheel_redis_evicting{policy="noeviction"}')).toBe(0);
  release();
  await waitFor(async () => value(await scrape(), "tickwheel_pool_in_flight") === 0, { timeoutMs: 5000, message: "held task to finish" });
});

test("one log line per failed attempt, with task id, name, attempt and error", async () => {
  const failure = await client.schedule(flakyTask, {}, { delay: 0 });
  await waitFor(async () => (await client.get(failure.id))?.state === "dead", { timeoutMs: 5000, message: "task to die" });
  const lines = logLines.filter((line) => line.taskId === failure.id && line.level >= 40);
  expect(lines).toHaveLength(2);
  expect(lines.map((line) => [line.level, line.task, line.attempt, line.err])).toEqual([
    [40, "metrics.flaky", 1, "Error: broken on attempt 1"],
    [50, "metrics.flaky", 2, "Error: broken on attempt 2"],
  ]);
  expect(lines.map((line) => line.msg)).toEqual(["task failed, will retry", "task dead"]);
});

test("promtool accepts a live node's /metrics (base units, counter names, help)", async () => {
  // Over the node's real HTTP server, after tasks ran, so every family has samples.
  const response = await fetch(`${node.url}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  expect(text).toContain("tickwheel_task_lateness_seconds_bucket");
  expect(text).not.toMatch(/^tickwheel_\w*_ms[_{ ]/m);
  const promtool = Bun.spawn(["promtool", "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(promtool.stdout).text(), new Response(promtool.stderr).text(), promtool.exited]);
  expect({ code, out, err }).toEqual({ code: 0, out: "", err: "" });
});
