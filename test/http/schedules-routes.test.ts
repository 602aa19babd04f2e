// /v1/schedules through the app (no socket) on an in-process node and a real redis-server: bad
// input is a 400 naming the field, a schedule's view (next fire times in its zone, next due time,
// last occurrence), listing by prefix with paging, pause/resume idempotent, 404s, the task view
// of an occurrence, and every answer matching the served OpenAPI document.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { defineTask } from "../../src/task/define-task.ts";
import { createApp } from "../../src/http/app.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { expectErrorShape, requester } from "./http-helpers.ts";
import { checkSchema } from "./json-schema.ts";

defineTask("routes.sched", z.unknown(), () => "tick");

let redis: RedisProcess;
let node: TickwheelNode;
let app: OpenAPIHono;
let req: ReturnType<typeof requester>;
let doc: any;

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix: randomPrefix("sroutes") });
  app = createApp(node);
  req = requester(app);
  doc = (await req("GET", "/openapi.json")).body;
});
afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

/** The documented response schema of a route and status, checked against a real answer. */
function matchesDoc(method: string, template: string, status: number, body: unknown): string[] {
  const operation = doc.paths[template]?.[method];
  if (!operation) return [`${method} ${template}: not documented`];
  const response = operation.responses[String(status)];
  if (!response) return [`${method} ${template}: status ${status} not documented`];
  const schema = response.content?.["application/json"]?.schema;
  return schema ? checkSchema(body, schema, doc, `${method} ${template} ${status}`) : [];
}

const task = { name: "routes.sched" };

describe("bad input names the field", () => {
  const cases: [string, unknown, string][] = [
    ["an invalid cron field", { cron: "61 * * * *", task }, "cron"],
    ["a cron with 4 fields", { cron: "* * * *", task }, "cron"],
    ["an unknown zone", { cron: "0 * * * *", tz: "Moon/Tranquility", task }, "tz"],
    ["every below the floor", { every: "10ms", task }, "every"],
    ["neither cron nor every", { task }, "cron"],
    ["an unknown field", { every: "1m", task, colour: "red" }, "colour"],
    ["a template field out of range", { every: "1m", task: { name: "x", priority: 99 } }, "task.priority"],
    ["an unknown misfire policy", { every: "1m", task, misfire: "never" }, "misfire"],
  ];
  for (const [what, body, field] of cases) {
    test(what, async () => {
      const response = await req("PUT", "/v1/schedules/bad", body);
      expect(response.status).toBe(400);
      expectErrorShape(response.body);
      expect(response.body.error.field).toBe(field);
      expect(matchesDoc("put", "/v1/schedules/{name}", 400, response.body)).toEqual([]);
    });
  }
  test("a name with characters an id cannot carry", async () => {
    const response = await req("PUT", "/v1/schedules/has%20space", { every: "1m", task });
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe("name");
  });
  test("nothing is stored for a refused request", async () => {
    expect((await req("GET", "/v1/schedules/bad")).status).toBe(404);
  });
});

describe("a schedule's life over HTTP", () => {
  test("PUT creates (201) then replaces (200); GET shows next times in the zone", async () => {
    const created = await req("PUT", "/v1/schedules/berlin-nightly", { cron: "30 2 * * *", tz: "Europe/Berlin", task: { name: "routes.sched", args: { n: 1 } } });
    expect(created.status).toBe(201);
    expect(created.body.created).toBe(true);
    expect(matchesDoc("put", "/v1/schedules/{name}", 201, created.body)).toEqual([]);
    const view = (await req("GET", "/v1/schedules/berlin-nightly")).body;
    expect(view.next.length).toBe(5);
    for (const at of view.next) expect(at).toMatch(/^\d{4}-\d\d-\d\dT02:30:00\+0[12]:00$|^\d{4}-\d\d-\d\dT03:00:00\+02:00$/);
    expect(view.nextDueAt).toBe(Date.parse(view.next[0]));
    expect(view.lastOccurrence).toBeNull();
    expect(matchesDoc("get", "/v1/schedules/{name}", 200, view)).toEqual([]);
    const replaced = await req("PUT", "/v1/schedules/berlin-nightly", { cron: "0 3 * * *", tz: "Europe/Berlin", task });
    expect(replaced.status).toBe(200);
    expect(replaced.body.created).toBe(false);
    expect(replaced.body.schedule.cron).toBe("0 3 * * *");
  });

  test("occurrences run, and their task view names the schedule and the occurrence", async () => {
    await req("PUT", "/v1/schedules/quick", { every: "200ms", task });
    await waitFor(async () => (await req("GET", "/v1/schedules/quick")).body.lastOccurrence?.state === "succeeded", {
      timeoutMs: 10_000,
      message: "an occurrence to succeed",
    });
    const view = (await req("GET", "/v1/schedules/quick")).body;
    const occurrence = (await req("GET", `/v1/tasks/${view.lastOccurrence.id}`)).body;
    expect(occurrence.name).toBe("routes.sched");
    expect(occurrence.schedule.name).toBe("quick");
    expect(occurrence.schedule.occurrenceAt).toBe(occurrence.dueAt);
    expect(matchesDoc("get", "/v1/tasks/{id}", 200, occurrence)).toEqual([]);
    expect((await req("DELETE", "/v1/schedules/quick")).status).toBe(200);
  });

  test("pause and resume are idempotent; unknown names are 404", async () => {
    await req("PUT", "/v1/schedules/pr", { every: "1h", task });
    const paused = await req("POST", "/v1/schedules/pr/pause");
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toBe(true);
    expect(paused.body.nextDueAt).toBeNull();
    expect((await req("POST", "/v1/schedules/pr/pause")).body.paused).toBe(true);
    const resumed = await req("POST", "/v1/schedules/pr/resume");
    expect(resumed.body.paused).toBe(false);
    expect(resumed.body.nextDueAt).toBeGreaterThan(Date.now());
    expect((await req("POST", "/v1/schedules/pr/resume")).body.paused).toBe(false);
    for (const [method, path] of [["GET", "/v1/schedules/nope"], ["POST", "/v1/schedules/nope/pause"], ["POST", "/v1/schedules/nope/resume"], ["DELETE", "/v1/schedules/nope"]] as const) {
      const response = await req(method, path);
      expect(response.status).toBe(404);
      expectErrorShape(response.body);
    }
  });

  test("list pages through every schedule and filters by name prefix", async () => {
    for (let i = 0; i < 12; i++) await req("PUT", `/v1/schedules/tenant-${i}.sync`, { every: "1h", task });
    await req("PUT", "/v1/schedules/other-thing", { every: "1h", task });
    const names = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = (await req("GET", `/v1/schedules?prefix=tenant-&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).body;
      expect(matchesDoc("get", "/v1/schedules", 200, page)).toEqual([]);
      for (const schedule of page.schedules) names.add(schedule.name);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect([...names].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `tenant-${i}.sync`).sort());
    expect((await req("GET", "/v1/schedules?limit=0")).status).toBe(400);
    expect((await req("GET", "/v1/schedules?cursor=garbage")).status).toBe(400);
  });
});

describe("PUT /v1/schedules (many at once)", () => {
  test("stores the valid items, answers each in order, names a bad item's index and field", async () => {
    const schedules = [
      ...Array.from({ length: 40 }, (_, i) => ({ name: `batch-${i}`, every: "1h", task: { name: "routes.sched", args: { i } } })),
      { name: "batch-bad-cron", cron: "61 * * * *", task },
      { name: "batch-0", every: "2h", task },
      { name: "batch-bad-field", every: "1h", task, colour: "red" },
    ];
    const response = await req("PUT", "/v1/schedules", { schedules });
    expect(response.status).toBe(200);
    expect(matchesDoc("put", "/v1/schedules", 200, response.body)).toEqual([]);
    expect({ created: response.body.created, replaced: response.body.replaced, failed: response.body.failed }).toEqual({ created: 40, replaced: 0, failed: 3 });
    const failures = response.body.results.filter((result: any) => !result.ok).map((result: any) => [result.index, result.status, result.error.field]);
    expect(failures).toEqual([
      [40, 400, "cron"],
      [41, 400, "name"],
      [42, 400, "colour"],
    ]);
    expect(response.body.results[5]).toMatchObject({ ok: true, name: "batch-5", created: true });
    expect(response.body.results[5].nextDueAt).toBeGreaterThan(Date.now());
    const view = (await req("GET", "/v1/schedules/batch-5")).body;
    expect(view.task.args).toEqual({ i: 5 });
    expect((await req("GET", "/v1/schedules/batch-bad-cron")).status).toBe(404);
    const again = await req("PUT", "/v1/schedules", { schedules: [{ name: "batch-1", every: "30m", task }] });
    expect(again.body).toMatchObject({ created: 0, replaced: 1, failed: 0 });
    expect((await req("GET", "/v1/schedules/batch-1")).body.every).toBe(1_800_000);
  });

  test("a malformed envelope is one 400 naming the field", async () => {
    for (const body of [{}, { schedules: [] }, { schedules: "x" }, { tasks: [] }]) {
      const response = await req("PUT", "/v1/schedules", body);
      expect(response.status).toBe(400);
      expectErrorShape(response.body);
    }
    expect((await req("PUT", "/v1/schedules", { schedules: [] })).body.error.field).toBe("schedules");
  });
});
