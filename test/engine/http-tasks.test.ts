// POST/GET/DELETE/PATCH /v1/tasks through a real node over HTTP: created and existing ids,
// and bad input answered with 400 naming the field, with nothing stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";

defineTask("http.greet", z.object({ who: z.string() }), (args) => `hello ${args.who}`);

let redis: RedisProcess;
let node: TickwheelNode;
let raw: Redis;
let prefix: string;

beforeAll(async () => {
  redis = await startRedis();
  prefix = randomPrefix("http");
  node = await startInProcessNode({ redisUrl: redis.url, prefix, env: { TICKWHEEL_MAX_ARGS_BYTES: "2048" } });
  raw = new Redis(redis.url);
});

afterAll(async () => {
  raw?.disconnect();
  await node?.stop();
  await redis?.cleanup();
});

async function post(body: unknown, raw = false) {
  const response = await fetch(`${node.url}/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function storedTaskCount(): Promise<number> {
  let total = 0;
  for (let shard = 0; shard < node.shards; shard++) total += await raw.hlen(`${prefix}:{${shard}}:tasks`);
  return total;
}

describe("POST /v1/tasks", () => {
  test("creates a task (201), then the same id answers 200 with created: false", async () => {
    const first = await post({ id: "order-42", name: "http.greet", args: { who: "ada" }, delay: "1h" });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: "order-42", created: true, shard: expect.any(Number) });
    const again = await post({ id: "order-42", name: "http.greet", args: { who: "bob" }, delay: "2h" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, created: false });
    const view = await (await fetch(`${node.url}/v1/tasks/order-42`)).json();
    expect(view).toMatchObject({ id: "order-42", name: "http.greet", state: "scheduled", dueAt: first.body.dueAt, attempt: 0, args: { who: "ada" } });
  });

  test("runs a task and shows its result", async () => {
    const { body } = await post({ name: "http.greet", args: { who: "kim" }, delay: 10 });
    let view: any;
    for (let i = 0; i < 100; i++) {
      view = await (await fetch(`${node.url}/v1/tasks/${body.id}`)).json();
      if (view.state === "succeeded") break;
      await Bun.sleep(50);
    }
    expect(view).toMatchObject({ state: "succeeded", attempt: 1, result: "hello kim" });
  });

  const bad: [string, unknown, string][] = [
    ["missing name", { args: {}, delay: 10 }, "name"],
    ["both runAt and delay", { name: "x", runAt: Date.now() + 1000, delay: 10 }, "runAt"],
    ["negative delay", { name: "x", delay: -5 }, "delay"],
    ["unparseable delay", { name: "x", delay: "soon" }, "delay"],
    ["bad runAt", { name: "x", runAt: "tomorrow" }, "runAt"],
    ["args over the limit", { name: "x", args: { blob: "y".repeat(4096) }, delay: 10 }, "args"],
    ["unknown field", { name: "x", delay: 10, colour: "red" }, "colour"],
    ["priority out of range", { name: "x", delay: 10, priority: 42 }, "priority"],
    ["maxAttempts zero", { name: "x", delay: 10, maxAttempts: 0 }, "maxAttempts"],
    ["id with spaces", { id: "a b", name: "x", delay: 10 }, "id"],
    ["args failing the task's schema", { name: "http.greet", args: { who: 7 }, delay: 10 }, "args.who"],
  ];
  for (const [label, body, field] of bad) {
    test(`400 for ${label}, naming ${field}; nothing stored`, async () => {
      const before = await storedTaskCount();
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(response.body.error.field).toBe(field);
      expect(typeof response.body.error.message).toBe("string");
      expect(await storedTaskCount()).toBe(before);
    });
  }

  test("400 for a body that is not JSON; nothing stored", async () => {
    const before = await storedTaskCount();
    const response = await post("{not json", true);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_json");
    expect(await storedTaskCount()).toBe(before);
  });
});

describe("GET, DELETE, PATCH /v1/tasks/:id", () => {
  test("404 for an unknown id", async () => {
    const response = await fetch(`${node.url}/v1/tasks/nope`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).error.code).toBe("not_found");
  });

  test("PATCH moves a scheduled task; DELETE cancels it; a second DELETE is a 409 with its state", async () => {
    const { body } = await post({ name: "http.greet", args: { who: "lee" }, delay: "1h" });
    const runAt = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const patched = await fetch(`${node.url}/v1/tasks/${body.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ runAt }),
    });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as any).dueAt).toBe(Date.parse(runAt));
    const deleted = await fetch(`${node.url}/v1/tasks/${body.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(((await deleted.json()) as any).state).toBe("cancelled");
    const again = await fetch(`${node.url}/v1/tasks/${body.id}`, { method: "DELETE" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as any).task.state).toBe("cancelled");
  });
});

test("GET /health, /ready and /admin/shards", async () => {
  expect((await fetch(`${node.url}/health`)).status).toBe(200);
  const ready = await fetch(`${node.url}/ready`);
  expect(ready.status).toBe(200);
  const shards = (await (await fetch(`${node.url}/admin/shards`)).json()) as any;
  expect(shards.shards.length).toBe(node.shards);
  for (const shard of shards.shards) {
    expect(shard).toMatchObject({ owner: node.nodeId, ownedHere: true, epoch: expect.any(Number), dueCount: expect.any(Number), inFlight: expect.any(Number), windowSize: expect.any(Number), fired: expect.any(Number) });
    expect("nextDueAt" in shard && "latenessP50Ms" in shard && "latenessP99Ms" in shard).toBe(true);
  }
});
