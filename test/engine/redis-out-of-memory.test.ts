// Redis at maxmemory with noeviction, filled by schedules through a node's HTTP API: every refused
// request gets 507 redis_out_of_memory with Retry-After (single and batch items), nothing is stored
// beyond what the answers report, the node stays up and logs a bounded number of lines while its
// claims and acknowledgements are refused, and once memory is freed (CONFIG SET maxmemory 0)
// every acknowledged task runs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Writable } from "node:stream";
import Redis from "ioredis";
import pino from "pino";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { createApp } from "../../src/http/app.ts";
import { loadConfig } from "../../src/config/config.ts";
import { TickwheelNode } from "../../src/node/node.ts";
import { startServedNode } from "../../src/node/serve-node.ts";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT } from "../helpers/node.ts";
import { join } from "node:path";
import { waitFor } from "../helpers/wait.ts";
import { requester } from "../http/http-helpers.ts";

const ran = new Map<string, number>();
defineTask("oom.task", z.object({ pad: z.string() }), (_args, ctx) => {
  ran.set(ctx.id, (ran.get(ctx.id) ?? 0) + 1);
});

let redis: RedisProcess;
let raw: Redis;
let node: TickwheelNode;
let client: Client;
const logLines: { level: number; msg: string; time: number }[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  await raw.config("SET", "maxmemory-policy", "noeviction");
  const prefix = randomPrefix("oom");
  const config = loadConfig({
    REDIS_URL: redis.url,
    PORT: "0",
    TICKWHEEL_PREFIX: prefix,
    TICKWHEEL_SHARDS: "4",
    // Attempts whose acknowledgement Redis refused come back after this (they run again: at least once).
    TICKWHEEL_VISIBILITY_MS: "2000",
  });
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) {
        const parsed = JSON.parse(line);
        logLines.push({ level: parsed.level, msg: parsed.msg, time: Date.now() });
      }
      done();
    },
  });
  node = new TickwheelNode(config, pino({ level: "info" }, sink));
  await startServedNode(node);
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  await raw?.config("SET", "maxmemory", "0").catch(() => {});
  raw?.disconnect();
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

test("out of memory: 507 + code for every refused request and batch item, exact batch results, node up, bounded log, every acknowledged task runs", async () => {
  const request = requester(createApp(node));
  const pad = "x".repeat(2048);
  const usedMemory = Number(/used_memory:(\d+)/.exec(await raw.info("memory"))![1]);
  await raw.config("SET", "maxmemory", String(usedMemory + 2 * 1024 * 1024));

  const acknowledged = new Set<string>();
  const refused = new Set<string>();
  let refusedSingles = 0;
  let refusedBatchItems = 0;
  let oomSince = 0;
  for (let round = 0; round < 500 && (refusedSingles < 20 || refusedBatchItems < 200); round++) {
    const tasks = Array.from({ length: 40 }, (_, i) => ({ id: `b${round}-${i}`, name: "oom.task", args: { pad }, delay: 1500 }));
    const batch = await request("POST", "/v1/tasks/batch", { tasks });
    expect(batch.status).toBe(200);
    let batchRefused = 0;
    batch.body.results.forEach((result: any, i: number) => {
      if (result.ok) {
        acknowledged.add(tasks[i]!.id);
        return;
      }
      expect({ status: result.status, code: result.error.code }).toEqual({ status: 507, code: "redis_out_of_memory" });
      refused.add(tasks[i]!.id);
      batchRefused++;
    });
    expect(batch.body.failed).toBe(batchRefused);
    if (batchRefused > 0) expect(Number(batch.headers.get("retry-after"))).toBeGreaterThan(0);
    refusedBatchItems += batchRefused;
    for (let i = 0; i < 2; i++) {
      const id = `s${round}-${i}`;
      const single = await request("POST", "/v1/tasks", { id, name: "oom.task", args: { pad }, delay: 1500 });
      if (single.status === 201) {
        acknowledged.add(id);
        continue;
      }
      expect({ status: single.status, code: single.body.error?.code }).toEqual({ status: 507, code: "redis_out_of_memory" });
      expect(Number(single.headers.get("retry-after"))).toBeGreaterThan(0);
      refused.add(id);
      refusedSingles++;
    }
    if (refused.size > 0 && oomSince === 0) oomSince = Date.now();
  }
  expect(refusedSingles).toBeGreaterThanOrEqual(20);
  expect(refusedBatchItems).toBeGreaterThanOrEqual(200);
  expect(acknowledged.size).toBeGreaterThan(100);

  // Keep Redis full for the CLI's request: the node's own work (finishes, expiring keys) can free a
  // few bytes between the loop above and the CLI's request, and Redis then accepts one more task.
  const usedNow = Number(/used_memory:(\d+)/.exec(await raw.info("memory"))![1]);
  await raw.config("SET", "maxmemory", String(Math.min(usedNow, usedMemory + 2 * 1024 * 1024) - 64 * 1024));
  // The CLI: one line naming the refusal, exit code 6 (node or Redis unavailable).
  const cli = Bun.spawn(["bun", join(ROOT, "src/cli/main.ts"), "schedule", "oom.task", "--in", "10s", "--args", JSON.stringify({ pad }), "--id", "cli-refused", "--url", node.url!], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [cliOut, cliErr, cliCode] = await Promise.all([new Response(cli.stdout).text(), new Response(cli.stderr).text(), cli.exited]);
  expect(cliCode).toBe(6);
  expect(cliOut).toBe("");
  expect(cliErr.trim().split("\n")).toHaveLength(1);
  expect(cliErr).toContain("redis_out_of_memory");
  refused.add("cli-refused");

  // Stay full a while: the acknowledged tasks fall due, and the node's claims, acknowledgements
  // and heartbeats meet the refusal too.
  await Bun.sleep(3000);
  expect(node.currentState).toBe("running");
  expect((await request("GET", "/health")).status).toBe(200);
  // Bounded: one line per place and kind per interval, not one per refused call.
  const linesWhileFull = logLines.filter((line) => line.time >= oomSince && line.level >= 40);
  if (linesWhileFull.length >= 40) {
    const byMessage = new Map<string, number>();
    for (const line of linesWhileFull) byMessage.set(line.msg, (byMessage.get(line.msg) ?? 0) + 1);
    console.error("log lines while Redis was full, by message:", Object.fromEntries(byMessage));
  }
  expect(linesWhileFull.length).toBeLessThan(40);
  const metrics = (await request("GET", "/metrics")).body as string;
  expect(Number(/tickwheel_redis_errors_total\{kind="oom"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(refusedSingles);

  await raw.config("SET", "maxmemory", "0");
  await waitFor(() => [...acknowledged].every((id) => ran.has(id)), {
    timeoutMs: 30_000,
    intervalMs: 100,
    message: "every acknowledged task to run",
  });
  await waitFor(async () => (await Promise.all([...acknowledged].map((id) => client.get(id)))).every((task) => task?.state === "succeeded"), {
    timeoutMs: 30_000,
    intervalMs: 200,
    message: "every acknowledged task to succeed",
  });
  // Nothing stored beyond what the answers reported: no refused id exists, and nothing else ran.
  for (const id of refused) expect(await client.get(id)).toBeNull();
  expect([...ran.keys()].filter((id) => !acknowledged.has(id))).toEqual([]);
}, 120_000);
