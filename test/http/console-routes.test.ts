// The console's API (issue 15) through createApp(node).request() with a real in-process node on a
// real redis-server: listing every state (finished tasks through the indexes that expire with
// them, failed tasks waiting for a retry), name and name-prefix filters, bad input naming the
// field, run-now, the attempt history, bulk jobs with progress, and 401 without the token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { defineTask } from "../../src/task/define-task.ts";
import { createApp } from "../../src/http/app.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { expectErrorShape, requester } from "./http-helpers.ts";

const TOKEN = "console-test-token-0123456789";
const ran = new Map<string, number>();
defineTask("con.ok", z.object({}).passthrough(), (_args, ctx) => {
  ran.set(ctx.id, Date.now());
  return { ok: true };
});
let attemptNo = 0;
const fail3 = defineTask("con.fail3", z.object({}), (_args, ctx) => {
  attemptNo++;
  throw new Error(`boom ${ctx.attempt}`);
}, { maxAttempts: 3, backoff: { baseMs: 20, maxMs: 20 } });
const slowRetry = defineTask("con.slowretry", z.object({}), () => {
  throw new Error("try later");
}, { maxAttempts: 5, backoff: { baseMs: 3_600_000, maxMs: 3_600_000 } });
defineTask("con.other", z.object({}), () => "other");

let redis: RedisProcess;
let node: TickwheelNode;
let app: OpenAPIHono;
let client: Client;
let req: ReturnType<typeof requester>;
let anon: ReturnType<typeof requester>;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("console");
  node = await startInProcessNode({ redisUrl: redis.url, prefix, env: { TICKWHEEL_API_TOKEN: TOKEN, TICKWHEEL_PAUSE_REFRESH_MS: "100" } });
  app = createApp(node);
  req = requester(app, TOKEN);
  anon = requester(app);
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

/** Every task of one listing, following cursors. */
async function listAll(query: string): Promise<any[]> {
  const tasks: any[] = [];
  let cursor: string | null = null;
  do {
    const response = await req("GET", `/v1/tasks?${query}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    expect(response.status).toBe(200);
    tasks.push(...response.body.tasks);
    cursor = response.body.nextCursor;
  } while (cursor);
  return tasks;
}

describe("listing every state", () => {
  test("scheduled: due order with the time left; name and name prefix filters", async () => {
    const now = Date.now();
    for (const [i, minutes] of [90, 10, 50, 30].entries()) await client.schedule("con.ok", {}, { id: `due-${i}`, runAt: now + minutes * 60_000 });
    await client.schedule("con.okay", {}, { id: "due-prefix", runAt: now + 20 * 60_000 });
    const exact = await listAll("state=scheduled&name=con.ok");
    expect(exact.map((task) => task.id).sort()).toEqual(["due-0", "due-1", "due-2", "due-3"]);
    // Within one shard the order is the due order; across shards the client sorts a page (as the console does).
    for (const task of exact) {
      expect(task.dueInMs).toBeGreaterThan(task.dueAt - Date.now() - 1000);
      expect(task.dueInMs).toBeLessThanOrEqual(task.dueAt - now);
    }
    const prefixed = await listAll("state=scheduled&namePrefix=con.ok");
    expect(prefixed.map((task) => task.id).sort()).toEqual(["due-0", "due-1", "due-2", "due-3", "due-prefix"]);
  });

  test("order=time: one due order across shards, the same page by page", async () => {
    const now = Date.now();
    // Inside the cold horizon (15 min): in the shards' due indexes, spread over every shard.
    const dues = Array.from({ length: 60 }, (_, i) => now + 60_000 + ((i * 7919) % 60) * 5_000 + i);
    await client.scheduleMany(dues.map((runAt, i) => ({ task: "con.timed", args: {}, options: { id: `timed-${i}`, runAt } })));
    const shardsUsed = new Set((await listAll("state=scheduled&name=con.timed")).map((task) => task.shard));
    expect(shardsUsed.size).toBeGreaterThan(1);
    const whole = await req("GET", "/v1/tasks?state=scheduled&name=con.timed&order=time&limit=500");
    const expected = [...dues].sort((a, b) => a - b);
    expect(whole.body.tasks.map((task: any) => task.dueAt)).toEqual(expected);
    const paged: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await req("GET", `/v1/tasks?state=scheduled&name=con.timed&order=time&limit=7${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.tasks.length).toBeLessThanOrEqual(7);
      paged.push(...page.body.tasks.map((task: any) => task.dueAt));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(expected);
    // A shard-order cursor is refused in time order, and running cannot be time-ordered: both name the field.
    const shardCursor = (await req("GET", "/v1/tasks?state=scheduled&name=con.timed&limit=1")).body.nextCursor;
    expect((await req("GET", `/v1/tasks?state=scheduled&name=con.timed&order=time&cursor=${shardCursor}`)).body.error.field).toBe("cursor");
    expect((await req("GET", "/v1/tasks?state=running&order=time")).body.error.field).toBe("order");
    await req("POST", "/v1/tasks/bulk", { action: "cancel", state: "scheduled", name: "con.timed" });
  });

  test("succeeded, cancelled, expired, failed and dead tasks are listable", async () => {
    const done = await client.schedule("con.ok", {}, { id: "fin-ok", delay: 0 });
    await client.schedule("con.ok", {}, { id: "fin-cancel", delay: "1h" });
    expect((await req("DELETE", "/v1/tasks/fin-cancel")).status).toBe(200);
    await client.schedule(fail3, {}, { id: "fin-dead", delay: 0 });
    await client.schedule(slowRetry, {}, { id: "fin-failed", delay: 0 });
    // Expired: due while its name is paused, past its expiry when resumed.
    await client.pause("con.other");
    await waitFor(async () => true, { timeoutMs: 10 });
    const start = Date.now();
    await client.schedule("con.other", {}, { id: "fin-expired", runAt: start + 300, expiresAt: start + 400 });
    await waitFor(() => Date.now() > start + 800, { timeoutMs: 5000 });
    await client.resume("con.other");
    await waitFor(async () => (await client.get(done.id))?.state === "succeeded" && (await client.get("fin-dead"))?.state === "dead"
      && (await client.get("fin-expired"))?.state === "expired" && (await client.get("fin-failed"))?.lastError !== undefined, { timeoutMs: 15_000, message: "tasks to finish" });

    const ids = async (state: string) => (await listAll(`state=${state}`)).map((task) => task.id).filter((id) => id.startsWith("fin-"));
    await waitFor(async () => (await ids("succeeded")).includes("fin-ok"), { timeoutMs: 5000, message: "succeeded listed" });
    expect(await ids("cancelled")).toEqual(["fin-cancel"]);
    expect(await ids("expired")).toEqual(["fin-expired"]);
    expect(await ids("dead")).toEqual(["fin-dead"]);
    const failed = await listAll("state=failed");
    expect(failed.map((task) => task.id)).toEqual(["fin-failed"]);
    expect(failed[0]).toMatchObject({ state: "scheduled", lastError: "Error: try later", attempt: 1 });
    expect(failed[0].dueInMs).toBeGreaterThan(0); // up to an hour of backoff (jittered)
    const succeeded = (await listAll("state=succeeded&name=con.ok")).find((task) => task.id === "fin-ok");
    expect(succeeded).toMatchObject({ state: "succeeded", name: "con.ok" });
    expect(await ids("succeeded&name=con.other")).toEqual([]);
    expect(await ids("expired&namePrefix=con.")).toEqual(["fin-expired"]);

    // A cancelled failed task leaves the failed list and joins the cancelled one.
    expect((await req("DELETE", "/v1/tasks/fin-failed")).status).toBe(200);
    expect(await ids("failed")).toEqual([]);
    expect((await ids("cancelled")).sort()).toEqual(["fin-cancel", "fin-failed"]);
  }, 30_000);

  test("the attempt history: each failed attempt's time and error", async () => {
    const response = await req("GET", "/v1/tasks/fin-dead/attempts");
    expect(response.status).toBe(200);
    expect(response.body.attempts.map((a: any) => [a.attempt, a.error])).toEqual([[1, "Error: boom 1"], [2, "Error: boom 2"], [3, "Error: boom 3"]]);
    for (const attempt of response.body.attempts) expect(attempt.at).toBeGreaterThan(Date.now() - 60_000);
    // A cancelled task keeps the history of its failed attempt beside its final record.
    const cancelled = await req("GET", "/v1/tasks/fin-failed/attempts");
    expect(cancelled.body.attempts.map((a: any) => a.error)).toEqual(["Error: try later"]);
    expect((await req("GET", "/v1/tasks/fin-ok/attempts")).body.attempts).toEqual([]);
  });

  test("bad input names the field: unknown state, bad cursor, a cursor of another listing, name and prefix together", async () => {
    const unknown = await req("GET", "/v1/tasks?state=sleeping");
    expect(unknown.status).toBe(400);
    expectErrorShape(unknown.body);
    expect(unknown.body.error.field).toBe("state");
    for (const cursor of ["not-a-cursor!", Buffer.from('{"v":1,"st":"scheduled","n":null,"s":999}').toString("base64url")]) {
      const bad = await req("GET", `/v1/tasks?state=scheduled&cursor=${encodeURIComponent(cursor)}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe("cursor");
    }
    const page = await req("GET", "/v1/tasks?state=scheduled&limit=1");
    expect(page.body.nextCursor).toBeString();
    const other = await req("GET", `/v1/tasks?state=succeeded&cursor=${page.body.nextCursor}`);
    expect(other.status).toBe(400);
    expect(other.body.error.field).toBe("cursor");
    const both = await req("GET", "/v1/tasks?state=scheduled&name=a&namePrefix=a");
    expect(both.status).toBe(400);
    expect(both.body.error.field).toBe("namePrefix");
  });
});

describe("acting", () => {
  test("run-now makes a task due in a week run within a second", async () => {
    await client.schedule("con.ok", {}, { id: "week-out", delay: "7d" });
    const started = Date.now();
    const response = await req("POST", "/v1/tasks/week-out/run-now");
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: "week-out", state: "scheduled" });
    expect(Math.abs(response.body.dueAt - started)).toBeLessThan(1000);
    await waitFor(() => ran.has("week-out"), { timeoutMs: 5000, message: "run-now task to run" });
    expect(ran.get("week-out")! - started).toBeLessThan(1000);
    // Finished: 409 with its state; unknown: 404.
    await waitFor(async () => (await client.get("week-out"))?.state === "succeeded", { timeoutMs: 5000 });
    const again = await req("POST", "/v1/tasks/week-out/run-now");
    expect(again.status).toBe(409);
    expect(again.body.task.state).toBe("succeeded");
    expect((await req("POST", "/v1/tasks/no-such-task/run-now")).status).toBe(404);
  });

  test("bulk cancel of one name by pages, with progress; other names untouched", async () => {
    const now = Date.now();
    await client.scheduleMany(Array.from({ length: 1200 }, (_, i) => ({ task: "con.bulk", args: {}, options: { id: `bulk-${i}`, runAt: now + 86_400_000 + i } })));
    await client.scheduleMany(Array.from({ length: 50 }, (_, i) => ({ task: "con.keep", args: {}, options: { id: `keep-${i}`, runAt: now + 86_400_000 + i } })));

    const count = await req("POST", "/v1/tasks/bulk", { action: "count", state: "scheduled", name: "con.bulk" });
    expect(count.status).toBe(202);
    await waitFor(async () => (await req("GET", `/v1/bulk/${count.body.jobId}`)).body.status === "done", { timeoutMs: 10_000 });
    expect((await req("GET", `/v1/bulk/${count.body.jobId}`)).body).toMatchObject({ matched: 1200, done: 0 });

    const started = await req("POST", "/v1/tasks/bulk", { action: "cancel", state: "scheduled", name: "con.bulk" });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ action: "cancel", status: "running", name: "con.bulk" });
    await waitFor(async () => (await req("GET", `/v1/bulk/${started.body.jobId}`)).body.status === "done", { timeoutMs: 30_000, message: "bulk cancel to finish" });
    const job = (await req("GET", `/v1/bulk/${started.body.jobId}`)).body;
    expect(job).toMatchObject({ matched: 1200, done: 1200, skipped: 0, error: null });
    expect(await listAll("state=scheduled&name=con.bulk")).toEqual([]);
    expect((await listAll("state=scheduled&name=con.keep")).length).toBe(50);
    expect((await client.get("bulk-7"))?.state).toBe("cancelled");
    expect((await req("GET", "/v1/bulk/bulk-nope")).status).toBe(404);
  }, 60_000);

  test("bulk run-now and retry", async () => {
    await client.scheduleMany(Array.from({ length: 20 }, (_, i) => ({ task: "con.ok", args: {}, options: { id: `soon-${i}`, delay: "7d" } })));
    const job = await req("POST", "/v1/tasks/bulk", { action: "run-now", state: "scheduled", namePrefix: "con.o" });
    expect(job.status).toBe(202);
    await waitFor(() => Array.from({ length: 20 }, (_, i) => `soon-${i}`).every((id) => ran.has(id)), { timeoutMs: 10_000, message: "bulk run-now tasks to run" });
    const retry = await req("POST", "/v1/tasks/bulk", { action: "retry", state: "dead", name: "con.fail3" });
    expect(retry.status).toBe(202);
    await waitFor(async () => (await req("GET", `/v1/bulk/${retry.body.jobId}`)).body.status === "done", { timeoutMs: 10_000 });
    expect((await req("GET", `/v1/bulk/${retry.body.jobId}`)).body).toMatchObject({ matched: 1, done: 1 });
  }, 30_000);

  test("bulk bad input: empty filter, an action the state does not allow, unknown action", async () => {
    const empty = await req("POST", "/v1/tasks/bulk", { action: "cancel", state: "scheduled" });
    expect(empty.status).toBe(400);
    expectErrorShape(empty.body);
    expect(empty.body.error.field).toBe("name");
    const wrongState = await req("POST", "/v1/tasks/bulk", { action: "retry", state: "scheduled", name: "x" });
    expect(wrongState.status).toBe(400);
    expect(wrongState.body.error.field).toBe("state");
    const unknown = await req("POST", "/v1/tasks/bulk", { action: "explode", state: "scheduled", name: "x" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.field).toBe("action");
  });

  test("401 without the token on every console route", async () => {
    for (const [method, path, body] of [
      ["POST", "/v1/tasks/x/run-now"],
      ["GET", "/v1/tasks/x/attempts"],
      ["POST", "/v1/tasks/bulk", { action: "cancel", state: "scheduled", name: "con.keep" }],
      ["GET", "/v1/bulk/x"],
      ["GET", "/v1/tasks?state=succeeded"],
    ] as const) {
      const response = await anon(method, path, body);
      expect(response.status).toBe(401);
      expectErrorShape(response.body);
    }
    expect((await listAll("state=scheduled&name=con.keep")).length).toBe(50);
  });
});
