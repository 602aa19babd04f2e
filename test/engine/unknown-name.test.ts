// A task whose name no node has a handler for waits instead of burning its attempts: it goes back
// to `due` without using one, with the reason as its lastError, and runs once a handler for its
// name is deployed (here: defined in the node's process while the task waits).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask, forgetTask } from "../../src/task/define-task.ts";
import { Client } from "../../src/client/client.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("unknown");
  node = await startInProcessNode({ redisUrl: redis.url, prefix });
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  forgetTask("unknown.deployed-later");
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

test("a task of an unknown name waits (no attempt used, the reason shown) and runs once its handler is deployed", async () => {
  // maxAttempts 1: counting the claim as a failed attempt would end it dead at once.
  const { id } = await client.schedule("unknown.deployed-later", { n: 4 }, { id: "late-1", delay: 0, maxAttempts: 1 });
  await waitFor(async () => (await client.get(id))?.lastError !== undefined, { timeoutMs: 10_000, message: "the first claim to record why it waits" });
  const waiting = (await client.get(id))!;
  expect(waiting).toMatchObject({ state: "scheduled", attempt: 0, lastError: 'no handler for task "unknown.deployed-later" on this node' });
  expect(waiting.dueAt).toBeGreaterThan(Date.now() - 100);

  // It is claimed again (at least once more, ~1 s apart while young) and keeps waiting.
  const firstDue = waiting.dueAt;
  await waitFor(async () => ((await client.get(id))?.dueAt ?? 0) > firstDue, { timeoutMs: 10_000, message: "a second claim and wait" });
  expect(await client.get(id)).toMatchObject({ state: "scheduled", attempt: 0 });
  expect(node.pool.counts.unavailable).toBeGreaterThanOrEqual(2);

  let ran = 0;
  defineTask("unknown.deployed-later", z.object({ n: z.number() }), ({ n }) => {
    ran++;
    return n * 10;
  });
  await waitFor(async () => (await client.get(id))?.state === "succeeded", { timeoutMs: 15_000, message: "the task to run once its handler exists" });
  expect(await client.get(id)).toMatchObject({ state: "succeeded", attempt: 1, result: 40 });
  expect(ran).toBe(1);
});
