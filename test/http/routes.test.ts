// Every route of the API through createApp(node).request() with a real in-process node on a real
// redis-server: each status code the API answers (200, 201, 400, 401, 404, 409, 413, 415, 422,
// 503), batch per-item results, listing with cursors, retrying a dead task, pause and resume.
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

const TOKEN = "route-test-token-0123456789";
const runs = new Map<string, number>();
let failDead = true;
defineTask("routes.ok", z.object({}).passthrough(), (_args, ctx) => {
  runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
  return "ok";
});
defineTask("routes.flaky", z.object({}), (_args, ctx) => {
  runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
  if (failDead) throw new Error("flaky failure");
  return "recovered";
}, { maxAttempts: 1 });
defineTask("routes.hang", z.object({}), async (_args, ctx) => {
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
});
defineTask("routes.paused", z.object({}), (_args, ctx) => {
  runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
});

let redis: RedisProcess;
let node: TickwheelNode;
let app: OpenAPIHono;
let client: Client;
let req: ReturnType<typeof requester>;
let anon: ReturnType<typeof requester>;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("routes");
  node = await startInProcessNode({
    redisUrl: redis.url,
    prefix,
    env: { TICKWHEEL_API_TOKEN: TOKEN, TICKWHEEL_PAUSE_REFRESH_MS: "100" },
  });
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

describe("authentication", () => {
  test("401 without a token and with a wrong one, on /v1 and /admin, in the error shape", async () => {
    for (const [method, path] of [["GET", "/v1/tasks/x"], ["POST", "/v1/tasks"], ["GET", "/admin/shards"], ["GET", "/v1/paused"], ["POST", "/v1/tasks/batch"]]) {
      const missing = await anon(method!, path!, method === "POST" ? { name: "routes.ok" } : undefined);
      expect(missing.status).toBe(401);
      expectErrorShape(missing.body);
      expect(missing.body.error.code).toBe("unauthorized");
      expect(missing.headers.get("www-authenticate")).toContain("Bearer");
      const wrong = await requester(app, `${TOKEN}x`)(method!, path!);
      expect(wrong.status).toBe(401);
      expect(wrong.body.error.message).toBe("wrong bearer token");
    }
    expect((await requester(app, TOKEN.slice(0, -1))("GET", "/admin/shards")).status).toBe(401);
    expect((await anon("GET", "/v1/tasks/x", undefined, { authorization: `Basic ${TOKEN}` })).status).toBe(401);
  });

  test("a 401 stores nothing", async () => {
    const response = await anon("POST", "/v1/tasks", { id: "unauthorised-task", name: "routes.ok", delay: "1h" });
    expect(response.status).toBe(401);
    expect(await client.get("unauthorised-task")).toBeNull();
  });

  test("/health, /metrics, /openapi.json and the dashboard stay open; the token opens /v1 and /admin", async () => {
    expect((await anon("GET", "/health")).status).toBe(200);
    expect((await anon("GET", "/metrics")).status).toBe(200);
    expect((await anon("GET", "/openapi.json")).status).toBe(200);
    expect((await anon("GET", "/")).status).toBe(200);
    expect((await req("GET", "/admin/shards")).status).toBe(200);
    expect((await anon("GET", "/v1/tasks/x", undefined, { authorization: `bearer   ${TOKEN}` })).status).toBe(404);
  });

  test("with TICKWHEEL_METRICS_AUTH, /metrics needs the token too", async () => {
    const strict = Object.create(node, { config: { value: { ...node.config, metricsAuth: true } } });
    const strictApp = createApp(strict);
    expect((await requester(strictApp)("GET", "/metrics")).status).toBe(401);
    const allowed = await requester(strictApp, TOKEN)("GET", "/metrics");
    expect(allowed.status).toBe(200);
    expect(String(allowed.body)).toContain("tickwheel_tasks_fired_total");
  });
});

describe("one task", () => {
  test("201 then 200 for the same id; GET answers it; 404 for an unknown id", async () => {
    const created = await req("POST", "/v1/tasks", { id: "one-1", name: "routes.ok", delay: "1h" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "one-1", created: true });
    const again = await req("POST", "/v1/tasks", { id: "one-1", name: "routes.ok", delay: "2h" });
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);
    expect((await req("GET", "/v1/tasks/one-1")).body).toMatchObject({ id: "one-1", state: "scheduled", dueAt: created.body.dueAt });
    const missing = await req("GET", "/v1/tasks/no-such-task");
    expect(missing.status).toBe(404);
    expectErrorShape(missing.body);
  });

  test("409 for cancelling or rescheduling a task that is no longer scheduled, with its state", async () => {
    await req("POST", "/v1/tasks", { id: "one-2", name: "routes.ok", delay: "1h" });
    expect((await req("DELETE", "/v1/tasks/one-2")).status).toBe(200);
    const cancelAgain = await req("DELETE", "/v1/tasks/one-2");
    expect(cancelAgain.status).toBe(409);
    expect(cancelAgain.body.error.code).toBe("conflict");
    expect(cancelAgain.body.task.state).toBe("cancelled");
    const move = await req("PATCH", "/v1/tasks/one-2", { delay: "2h" });
    expect(move.status).toBe(409);
    expect((await req("PATCH", "/v1/tasks/never-was", { delay: "2h" })).status).toBe(404);
    expect((await req("DELETE", "/v1/tasks/never-was")).status).toBe(404);
  });

  test("400 for malformed JSON and for a bad field (named); 415 without a JSON content type", async () => {
    const malformed = await req("POST", "/v1/tasks", "{\"name\": ");
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("invalid_json");
    expectErrorShape(malformed.body);
    const badField = await req("POST", "/v1/tasks", { name: "routes.ok", delay: "soon" });
    expect(badField.status).toBe(400);
    expect(badField.body.error.field).toBe("delay");
    const unknown = await req("POST", "/v1/tasks", { name: "routes.ok", delay: 5, colour: "red" });
    expect(unknown.body.error.field).toBe("colour");
    const text = await req("POST", "/v1/tasks", JSON.stringify({ name: "routes.ok" }), { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expectErrorShape(text.body);
    const patch = await req("PATCH", "/v1/tasks/one-1", { runAt: "2027-01-01T00:00:00Z", delay: 5 });
    expect(patch.status).toBe(400);
    expect(patch.body.error.field).toBe("runAt");
  });

  test("a task's target: shown by GET, the handler when absent; an unknown type is refused naming the field", async () => {
    const created = await req("POST", "/v1/tasks", { id: "target-1", name: "routes.ok", delay: "1h", target: { type: "handler" } });
    expect(created.status).toBe(201);
    expect((await req("GET", "/v1/tasks/target-1")).body.target).toEqual({ type: "handler" });
    const refused = await req("POST", "/v1/tasks", { id: "target-2", name: "routes.ok", delay: "1h", target: { type: "carrier-pigeon" } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.field).toBe("target.type");
    expectErrorShape(refused.body);
    const extra = await req("POST", "/v1/tasks", { id: "target-3", name: "routes.ok", delay: "1h", target: { type: "handler", url: "http://x" } });
    expect(extra.status).toBe(400);
    expect(extra.body.error.field).toBe("target.url");
    expect(await client.get("target-2")).toBeNull();
  });

  test("a webhook target: stored normalized and shown by GET; a refused address, a reserved header or a bad timeout is a 400 naming its field", async () => {
    const created = await req("POST", "/v1/tasks", { id: "hook-1", name: "routes.hook", delay: "1h", target: { type: "webhook", url: "HTTPS://Hooks.Example.com/a?b=1", headers: { authorization: "Bearer t" }, timeoutMs: 5000 } });
    expect(created.status).toBe(201);
    expect((await req("GET", "/v1/tasks/hook-1")).body.target).toEqual({ type: "webhook", url: "https://hooks.example.com/a?b=1", headers: { authorization: "Bearer t" }, timeoutMs: 5000 });
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ type: "webhook", url: "http://169.254.169.254/latest/meta-data/iam/" }, "target.url", /cloud metadata address/],
      [{ type: "webhook", url: "http://[::ffff:a9fe:a9fe]/" }, "target.url", /cloud metadata address/],
      [{ type: "webhook", url: "gopher://example.com/" }, "target.url", /http:\/\/ or https:\/\//],
      [{ type: "webhook" }, "target.url", /./],
      [{ type: "webhook", url: "https://example.com/", headers: { Host: "internal" } }, "target.headers.Host", /set by tickwheel/],
      [{ type: "webhook", url: "https://example.com/", timeoutMs: 0 }, "target.timeoutMs", /integer/],
      [{ type: "webhook", url: "https://example.com/", method: "GET" }, "target.method", /./],
    ];
    for (const [target, field, message] of cases) {
      const refused = await req("POST", "/v1/tasks", { id: "hook-refused", name: "routes.hook", delay: "1h", target });
      expect({ field, status: refused.status }).toEqual({ field, status: 400 });
      expect(refused.body.error.field).toBe(field);
      expect(refused.body.error.message).toMatch(message);
      expectErrorShape(refused.body);
    }
    expect(await client.get("hook-refused")).toBeNull();
  });

  test("422 for a task that would expire before it is due; nothing stored", async () => {
    const response = await req("POST", "/v1/tasks", { id: "too-late", name: "routes.ok", runAt: "2030-01-02T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" });
    expect(response.status).toBe(422);
    expect(response.body.error).toMatchObject({ code: "unprocessable", field: "expiresAt" });
    expectErrorShape(response.body);
    expect(await client.get("too-late")).toBeNull();
    const fine = await req("POST", "/v1/tasks", { id: "in-time", name: "routes.ok", runAt: "2030-01-01T00:00:00Z", expiresAt: "2030-01-02T00:00:00Z" });
    expect(fine.status).toBe(201);
  });

  test("404 in the error shape for an unknown route", async () => {
    const response = await req("GET", "/v1/nothing-here");
    expect(response.status).toBe(404);
    expectErrorShape(response.body);
  });
});

describe("body size limits (413 before parsing)", () => {
  const MiB = 1024 * 1024;

  test("a single task over 1 MiB of args + envelope is refused with 413, even when it is not JSON", async () => {
    const big = await req("POST", "/v1/tasks", { name: "routes.ok", delay: "1h", args: { blob: "x".repeat(MiB + 80 * 1024) } });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("payload_too_large");
    expectErrorShape(big.body);
    const notJson = await req("POST", "/v1/tasks", "{".repeat(2 * MiB));
    expect(notJson.status).toBe(413);
  });

  test("a streamed body without Content-Length is cut at the limit", async () => {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 3 * MiB) return controller.close();
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const response = await app.request("/v1/tasks", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(3 * MiB);
  });

  test("args just under 1 MiB are accepted", async () => {
    const response = await req("POST", "/v1/tasks", { name: "routes.ok", delay: "1h", args: { blob: "x".repeat(MiB - 100) } });
    expect(response.status).toBe(201);
  });

  test("a batch over 16 MiB is refused with 413", async () => {
    const item = JSON.stringify({ name: "routes.ok", delay: "1h", args: "y".repeat(MiB) });
    const response = await req("POST", "/v1/tasks/batch", `{"tasks":[${Array(17).fill(item).join(",")}]}`);
    expect(response.status).toBe(413);
    expectErrorShape(response.body);
  });
});

describe("batch", () => {
  test("10,000 tasks in one request: per-item results in order; the same batch again creates none", async () => {
    const tasks = Array.from({ length: 10_000 }, (_, i) => ({ id: `batch-${i}`, name: "routes.ok", delay: "2h", args: { i } }));
    const first = await req("POST", "/v1/tasks/batch", { tasks });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ created: 10_000, existing: 0, failed: 0 });
    expect(first.body.results).toHaveLength(10_000);
    first.body.results.forEach((result: any, i: number) => expect(result.ok && result.id === `batch-${i}` && result.created).toBe(true));
    const shards = new Set(first.body.results.map((r: any) => r.shard));
    expect(shards.size).toBe(node.shards);
    const again = await req("POST", "/v1/tasks/batch", { tasks });
    expect(again.body).toMatchObject({ created: 0, existing: 10_000, failed: 0 });
    expect((await client.get("batch-9999"))?.args).toEqual({ i: 9999 });
  });

  test("bad items are answered in place (400, 413, 422) and the good ones are stored", async () => {
    const response = await req("POST", "/v1/tasks/batch", {
      tasks: [
        { id: "mixed-ok-1", name: "routes.ok", delay: "1h" },
        { id: "mixed-bad-delay", name: "routes.ok", delay: -3 },
        { id: "mixed-unknown-field", name: "routes.ok", delay: 10, colour: "red" },
        { id: "mixed-big", name: "routes.unknown", delay: 10, args: "z".repeat(1024 * 1024 + 10) },
        { id: "mixed-expired", name: "routes.ok", runAt: 2_000_000_000_000, expiresAt: 1_999_000_000_000 },
        "not an object",
        { id: "mixed-ok-1", name: "routes.ok", delay: "3h" },
        { id: "mixed-ok-2", name: "routes.ok", runAt: "2030-05-01T00:00:00Z" },
      ],
    });
    expect(response.status).toBe(200);
    const results = response.body.results;
    expect(results.map((r: any) => (r.ok ? "ok" : r.status))).toEqual(["ok", 400, 400, 413, 422, 400, "ok", "ok"]);
    expect(results[1].error.field).toBe("delay");
    expect(results[2].error.field).toBe("colour");
    expect(results[3].error.field).toBe("args");
    expect(results[4].error.field).toBe("expiresAt");
    expect(results[6]).toMatchObject({ ok: true, id: "mixed-ok-1", created: false });
    expect(response.body).toMatchObject({ created: 2, existing: 1, failed: 5 });
    for (const id of ["mixed-bad-delay", "mixed-unknown-field", "mixed-big", "mixed-expired"]) expect(await client.get(id)).toBeNull();
    expect(await client.get("mixed-ok-2")).not.toBeNull();
  });

  test("a bad envelope is a 400 for the whole request", async () => {
    const cases: [unknown, string][] = [
      [{}, "tasks"],
      [{ tasks: [] }, "tasks"],
      [{ tasks: "x" }, "tasks"],
      [{ tasks: [{ name: "a", delay: 1 }], extra: 1 }, "extra"],
      [{ tasks: Array.from({ length: 10_001 }, () => ({ name: "a", delay: 1 })) }, "tasks"],
    ];
    for (const [body, field] of cases) {
      const response = await req("POST", "/v1/tasks/batch", body);
      expect(response.status).toBe(400);
      expect(response.body.error.field).toBe(field);
    }
    expect((await req("POST", "/v1/tasks/batch", "[1,")).body.error.code).toBe("invalid_json");
    expect((await req("POST", "/v1/tasks/batch", "{}", { "content-type": "text/plain" })).status).toBe(415);
  });
});

/** Every task of a listing, following cursors (pages can be short: each request's work is bounded). */
async function collect(query: string, limit: number, startCursor: string | null = null): Promise<any[]> {
  const seen: any[] = [];
  let cursor: string | null = startCursor;
  let pages = 0;
  do {
    const response: any = await req("GET", `/v1/tasks?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (response.status !== 200) throw new Error(`listing ${query} answered ${response.status}: ${JSON.stringify(response.body)}`);
    expect(response.body.tasks.length).toBeLessThanOrEqual(limit);
    seen.push(...response.body.tasks);
    cursor = response.body.nextCursor;
    if (++pages > 500) throw new Error("paging does not end");
  } while (cursor);
  return seen;
}

describe("listing", () => {
  beforeAll(async () => {
    // Far-future tasks (cold tier) and, for the order, some due within the cold horizon (`due`).
    const tasks = Array.from({ length: 37 }, (_, i) => ({ id: `list-${String(i).padStart(2, "0")}`, name: i % 3 === 0 ? "list.alpha" : "list.beta", delay: `${100 + i}d` }));
    const near = Array.from({ length: 20 }, (_, i) => ({ id: `near-${String(i).padStart(2, "0")}`, name: "list.near", delay: `${600 + ((i * 7) % 20)}s` }));
    expect((await req("POST", "/v1/tasks/batch", { tasks: [...tasks, ...near] })).body.created).toBe(57);
  });

  test("by name: every task of that name exactly once across pages, nothing else", async () => {
    const alpha = await collect("state=scheduled&name=list.alpha", 4);
    expect(alpha.map((t) => t.id).sort()).toEqual(Array.from({ length: 13 }, (_, i) => `list-${String(i * 3).padStart(2, "0")}`));
    expect(alpha.every((t) => t.name === "list.alpha" && t.state === "scheduled" && t.args === undefined)).toBe(true);
    const beta = await collect("name=list.beta", 5);
    expect(beta).toHaveLength(24);
    expect(new Set(beta.map((t) => t.id)).size).toBe(24);
  });

  test("by state: pages cover the whole scheduled set once, shard by shard; tasks in due in due order, then the cold ones", async () => {
    const all = await collect("state=scheduled", 100);
    const ids = all.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => id.startsWith("list-"))).toHaveLength(37);
    expect(ids.filter((id) => id.startsWith("near-"))).toHaveLength(20);
    for (let i = 1; i < all.length; i++) {
      if (all[i].shard !== all[i - 1].shard) {
        expect(all[i].shard).toBeGreaterThan(all[i - 1].shard);
        continue;
      }
      // Within a shard: no near task after a far (cold) one, and near tasks in due order.
      expect(all[i - 1].id.startsWith("list-") && all[i].id.startsWith("near-")).toBe(false);
      if (all[i].id.startsWith("near-")) expect(all[i].dueAt).toBeGreaterThanOrEqual(all[i - 1].dueAt);
    }
  });

  test("a task moved between pages is not lost from the listing", async () => {
    // The first page that holds tasks (earlier ones can be empty: the scan budget ran out first).
    let first = await req("GET", "/v1/tasks?name=list.alpha&limit=3");
    while (first.body.tasks.length === 0) first = await req("GET", `/v1/tasks?name=list.alpha&limit=3&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    const cursor = first.body.nextCursor;
    const cursorTask = first.body.tasks.at(-1).id;
    await req("PATCH", `/v1/tasks/${cursorTask}`, { delay: "1d" }); // the cursor's own entry moves
    const rest = await collect("name=list.alpha", 3, cursor);
    const seen = [...first.body.tasks.map((t: any) => t.id), ...rest.map((t) => t.id)];
    const expected = Array.from({ length: 13 }, (_, i) => `list-${String(i * 3).padStart(2, "0")}`);
    // Everything that did not move is seen exactly once; the moved one may be seen again at its new place.
    for (const id of expected) expect(seen.filter((s) => s === id).length).toBe(id === cursorTask ? seen.filter((s) => s === id).length : 1);
    expect(seen.filter((s) => s === cursorTask).length).toBeGreaterThanOrEqual(1);
  });

  test("tasks with large args come in pages bounded by bytes, none lost", async () => {
    const big = "b".repeat(1024 * 1024 - 1000);
    await client.scheduleMany(Array.from({ length: 12 }, (_, i) => ({ task: "list.big", args: big, options: { id: `big-${i}`, delay: "300d" } })));
    const pages: number[] = [];
    let cursor: string | null = null;
    const seen: string[] = [];
    do {
      const response: any = await req("GET", `/v1/tasks?name=list.big&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      pages.push(response.body.tasks.length);
      seen.push(...response.body.tasks.map((t: any) => t.id));
      cursor = response.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `big-${i}`).sort());
    expect(Math.max(...pages)).toBeLessThan(12);
  });

  test("running tasks are listed with their visibility deadline", async () => {
    const { body } = await req("POST", "/v1/tasks", { name: "routes.hang", delay: 0, timeoutMs: 3000 });
    await waitFor(async () => (await client.get(body.id))?.state === "running", { timeoutMs: 5000, message: "hanging task to run" });
    const running = await req("GET", "/v1/tasks?state=running&name=routes.hang");
    expect(running.body.tasks.map((t: any) => t.id)).toContain(body.id);
    expect(running.body.tasks[0].visibilityDeadline).toBeGreaterThan(Date.now());
  });

  test("400 for a bad state, limit or cursor, and for a cursor of another listing", async () => {
    expect((await req("GET", "/v1/tasks?state=sleeping")).body.error.field).toBe("state");
    expect((await req("GET", "/v1/tasks?limit=0")).body.error.field).toBe("limit");
    expect((await req("GET", "/v1/tasks?limit=501")).status).toBe(400);
    expect((await req("GET", "/v1/tasks?cursor=%%%")).body.error.field).toBe("cursor");
    expect((await req("GET", "/v1/tasks?bogus=1")).body.error.field).toBe("bogus");
    const page = await req("GET", "/v1/tasks?name=list.alpha&limit=2");
    const other = await req("GET", `/v1/tasks?name=list.beta&cursor=${encodeURIComponent(page.body.nextCursor)}`);
    expect(other.status).toBe(400);
    expect(other.body.error.field).toBe("cursor");
  });
});

describe("dead tasks", () => {
  test("a dead task is listed, retried (200), runs again and succeeds; 409 and 404 otherwise", async () => {
    failDead = true;
    const { body } = await req("POST", "/v1/tasks", { id: "dead-1", name: "routes.flaky", delay: 0 });
    await waitFor(async () => (await client.get(body.id))?.state === "dead", { timeoutMs: 5000, message: "task to die" });
    const dead = await req("GET", "/v1/tasks?state=dead&name=routes.flaky");
    expect(dead.body.tasks).toHaveLength(1);
    expect(dead.body.tasks[0]).toMatchObject({ id: "dead-1", state: "dead", attempt: 1, lastError: "Error: flaky failure" });

    failDead = false;
    const retried = await req("POST", "/v1/tasks/dead-1/retry");
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: "dead-1", state: "scheduled", attempt: 0, lastError: "Error: flaky failure" });
    await waitFor(async () => (await client.get("dead-1"))?.state === "succeeded", { timeoutMs: 5000, message: "retried task to succeed" });
    expect(runs.get("dead-1")).toBe(2);
    expect((await req("GET", "/v1/tasks?state=dead&name=routes.flaky")).body.tasks).toHaveLength(0);

    const notDead = await req("POST", "/v1/tasks/dead-1/retry");
    expect(notDead.status).toBe(409);
    expect(notDead.body.task.state).toBe("succeeded");
    expectErrorShape({ error: notDead.body.error });
    expect((await req("POST", "/v1/tasks/never-existed/retry")).status).toBe(404);
  });
});

describe("pause and resume by name", () => {
  test("paused: due tasks are not started, keep their due time, and run once each after resume", async () => {
    const paused = await req("POST", "/v1/names/routes.paused/pause");
    expect(paused.status).toBe(200);
    const { pausedAt } = paused.body;
    expect(paused.body).toEqual({ name: "routes.paused", paused: true, pausedAt });
    expect(pausedAt).toBeGreaterThan(Date.now() - 60_000);
    expect((await req("POST", "/v1/names/routes.paused/pause")).body.pausedAt).toBe(pausedAt);
    expect((await req("GET", "/v1/paused")).body.paused.map((p: any) => p.name)).toEqual(["routes.paused"]);

    const tasks = Array.from({ length: 20 }, (_, i) => ({ id: `paused-${i}`, name: "routes.paused", delay: 20 + i }));
    const created = await req("POST", "/v1/tasks/batch", { tasks });
    expect(created.body.created).toBe(20);
    const other = await req("POST", "/v1/tasks", { name: "routes.ok", delay: 10 });
    // Every due task of the paused name comes due, is claimed, and is parked; other names run.
    await waitFor(async () => {
      const listed = await collect("state=scheduled&name=routes.paused", 100);
      return listed.length === 20 && listed.every((t: any) => t.paused === true);
    }, { timeoutMs: 10_000, message: "every paused task to be parked" });
    await waitFor(async () => (await client.get(other.body.id))?.state === "succeeded", { timeoutMs: 5000, message: "other name to run" });
    for (const task of tasks) expect(runs.get(task.id)).toBeUndefined();
    const view = await client.get("paused-3");
    expect(view).toMatchObject({ state: "scheduled", attempt: 0, dueAt: created.body.results[3].dueAt });

    // A parked task can still be cancelled; it must not come back on resume.
    expect((await req("DELETE", "/v1/tasks/paused-0")).status).toBe(200);

    const resumed = await req("POST", "/v1/names/routes.paused/resume");
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ name: "routes.paused", paused: false, wasPaused: true, requeued: 19 });
    await waitFor(async () => tasks.slice(1).every((t) => runs.get(t.id) === 1), { timeoutMs: 10_000, message: "resumed tasks to run" });
    expect(runs.get("paused-0")).toBeUndefined();
    // A handler's run is counted before its finish is flushed (the completer batches finishes for a few ms).
    await waitFor(async () => (await Promise.all(tasks.slice(1).map((t) => client.get(t.id)))).every((v) => v?.state === "succeeded"), {
      timeoutMs: 5000,
      message: "resumed tasks to be recorded succeeded",
    });
    expect((await req("GET", "/v1/paused")).body.paused).toEqual([]);
    expect((await req("POST", "/v1/names/routes.paused/resume")).body).toMatchObject({ wasPaused: false, requeued: 0 });
  });

  test("a pause made through Redis (another node, the client) reaches this node by its refresh", async () => {
    await client.pause("routes.paused");
    // The node reads paused names every 100 ms here; wait until its metrics show it parking.
    // The node reads paused names every 100 ms here. Probe with due tasks until one is parked;
    // probes that ran before the node saw the pause are fine (they were due and not yet paused).
    const probes: string[] = [];
    await waitFor(async () => {
      const probe = await req("POST", "/v1/tasks", { name: "routes.paused", delay: 0 });
      probes.push(probe.body.id);
      await waitFor(async () => runs.has(probe.body.id) || (await collect("state=scheduled&name=routes.paused", 100)).some((t) => t.id === probe.body.id && t.paused), { timeoutMs: 5000 });
      return !runs.has(probe.body.id);
    }, { timeoutMs: 10_000, intervalMs: 0, message: "node to park a task paused through Redis" });
    const parked = probes.filter((id) => !runs.has(id));
    const result = await client.resume("routes.paused");
    expect(result).toMatchObject({ wasPaused: true, requeued: parked.length });
    await waitFor(() => probes.every((id) => runs.get(id) === 1), { timeoutMs: 5000, message: "parked probes to run once" });
  });

  test("400 for a name over 200 characters", async () => {
    const response = await req("POST", `/v1/names/${"n".repeat(201)}/pause`);
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe("name");
  });
});

describe("503 when Redis is unreachable", () => {
  test("/v1 answers 503 in the error shape and /ready says not ready", async () => {
    const own = await startRedis();
    const lonely = await startInProcessNode({ redisUrl: own.url, prefix: randomPrefix("down") });
    try {
      const lonelyApp = requester(createApp(lonely));
      expect((await lonelyApp("GET", "/v1/tasks/anything")).status).toBe(404);
      await own.stop();
      const down = await lonelyApp("GET", "/v1/tasks/anything");
      expect(down.status).toBe(503);
      expectErrorShape(down.body);
      expect(down.body.error.code).toBe("unavailable");
      const create = await lonelyApp("POST", "/v1/tasks", { name: "routes.ok", delay: "1h" });
      expect(create.status).toBe(503);
      await waitFor(async () => (await lonelyApp("GET", "/ready")).status === 503, { timeoutMs: 5000, message: "/ready to say 503" });
      expect(String((await lonelyApp("GET", "/metrics")).body)).toMatch(/tickwheel_redis_errors_total\{kind="connection"\} [1-9]/);
    } finally {
      await own.restart();
      await lonely.stop();
      await own.cleanup();
    }
  });
});
