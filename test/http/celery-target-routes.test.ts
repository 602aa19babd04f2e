// The Celery target at the HTTP boundary: what POST /v1/tasks (and batch items) refuse, each with
// a 400 naming the field; what is stored and shown; a node without a broker keeps such tasks
// waiting instead of failing them; and the same rules through the TS client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/http/app.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { Client } from "../../src/client/client.ts";
import { TickwheelError } from "../../src/task/errors.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { expectErrorShape, requester } from "./http-helpers.ts";

let redis: RedisProcess;
let node: TickwheelNode;
let app: OpenAPIHono;
let req: ReturnType<typeof requester>;
let prefix: string;

beforeAll(async () => {
  redis = await startRedis();
  prefix = randomPrefix("celroutes");
  // No TICKWHEEL_CELERY_BROKER_URL: this node cannot deliver celery tasks.
  node = await startInProcessNode({ redisUrl: redis.url, prefix });
  app = createApp(node);
  req = requester(app);
}, 30_000);

afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

describe("celery target: validation", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["missing task", { target: { type: "celery" } }, "target.task"],
    ["empty task", { target: { type: "celery", task: "" } }, "target.task"],
    ["task with a space", { target: { type: "celery", task: "app tasks" } }, "target.task"],
    ["queue with a control character", { target: { type: "celery", task: "a.b", queue: "q\u0006\u00163" } }, "target.queue"],
    ["priority 10", { target: { type: "celery", task: "a.b", priority: 10 } }, "target.priority"],
    ["fractional priority", { target: { type: "celery", task: "a.b", priority: 1.5 } }, "target.priority"],
    ["kwargs an array", { target: { type: "celery", task: "a.b", kwargs: [1] } }, "target.kwargs"],
    ["unknown field", { target: { type: "celery", task: "a.b", eta: "2027-01-01T00:00:00Z" } }, "target.eta"],
    ["args an object", { args: { x: 1 }, target: { type: "celery", task: "a.b" } }, "args"],
    ["args a string", { args: "x", target: { type: "celery", task: "a.b" } }, "args"],
  ];
  for (const [label, body, field] of cases) {
    test(`${label}: 400 naming ${field}, nothing stored`, async () => {
      const id = `bad-${crypto.randomUUID()}`;
      const response = await req("POST", "/v1/tasks", { id, name: "app.tasks.x", delay: "1h", ...body });
      expect(response.status).toBe(400);
      expectErrorShape(response.body);
      expect(response.body.error.field).toBe(field);
      expect((await req("GET", `/v1/tasks/${id}`)).status).toBe(404);
    });
  }

  test("a batch item with a bad celery target fails alone, naming its field", async () => {
    const response = await req("POST", "/v1/tasks/batch", {
      tasks: [
        { name: "app.tasks.x", delay: "1h", target: { type: "celery", task: "app.tasks.x" } },
        { name: "app.tasks.x", delay: "1h", target: { type: "celery", task: "app.tasks.x", priority: -1 } },
        { name: "app.tasks.x", args: { not: "a list" }, delay: "1h", target: { type: "celery", task: "app.tasks.x" } },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body.results.map((r: any) => r.ok)).toEqual([true, false, false]);
    expect(response.body.results[1].error.field).toBe("target.priority");
    expect(response.body.results[2].error.field).toBe("args");
  });

  test("the stored target is what was given (no defaults added), and GET shows it", async () => {
    const id = `ok-${crypto.randomUUID()}`;
    const target = { type: "celery", task: "app.tasks.send_email", queue: "mail", priority: 6, kwargs: { template: "x", nested: { a: [1, 2] } } };
    expect((await req("POST", "/v1/tasks", { id, name: "app.tasks.send_email", args: ["ada@example.com"], delay: "1h", target })).status).toBe(201);
    const task = (await req("GET", `/v1/tasks/${id}`)).body;
    expect(task.target).toEqual(target);
    expect(task.args).toEqual(["ada@example.com"]);
    // No result backend configured on this node: no celery field.
    expect(task.celery).toBeUndefined();
  });

  test("the TS client refuses the same things with the same fields", async () => {
    const client = new Client({ redisUrl: redis.url, prefix });
    try {
      const [bad, badArgs] = await client.scheduleMany([
        { task: "app.tasks.x", options: { delay: "1h", target: { type: "celery", task: "app.tasks.x", priority: 12 } } },
        { task: "app.tasks.x", args: { x: 1 }, options: { delay: "1h", target: { type: "celery", task: "app.tasks.x" } } },
      ]);
      expect(bad).toBeInstanceOf(TickwheelError);
      expect((bad as TickwheelError).field).toBe("target.priority");
      expect((badArgs as TickwheelError).field).toBe("args");
    } finally {
      await client.close();
    }
  });
});

test("a node without a Celery broker keeps a due celery task waiting, using no attempt", async () => {
  const id = `wait-${crypto.randomUUID()}`;
  expect((await req("POST", "/v1/tasks", { id, name: "app.tasks.later", args: [], delay: 100, target: { type: "celery", task: "app.tasks.later" } })).status).toBe(201);
  let task: any;
  await waitFor(
    async () => {
      task = (await req("GET", `/v1/tasks/${id}`)).body;
      return task.state === "scheduled" && typeof task.lastError === "string";
    },
    { timeoutMs: 10_000, message: "the celery task back in scheduled with a lastError" },
  );
  expect(task.attempt).toBe(0);
  expect(task.dueAt).toBeGreaterThan(Date.now());
});
