// Input a URL path or a Date cannot carry back: ids "." and ".." (dot segments, removed by every
// URL parser) are refused with 400 naming `id`, while ids with "/", "?", "%", "#" are addressable
// percent-encoded; runAt, delay and expiresAt are bounded to times that read back as valid dates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { Client } from "../../src/client/client.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { TickwheelError } from "../../src/task/errors.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { expectErrorShape, requester } from "./http-helpers.ts";

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;
let request: ReturnType<typeof requester>;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("edges");
  node = await startInProcessNode({ redisUrl: redis.url, prefix });
  client = new Client({ redisUrl: redis.url, prefix });
  request = requester(createApp(node));
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

const far = "2099-01-01T00:00:00Z";

describe("ids", () => {
  test('"." and ".." are refused with 400 naming id, over HTTP (single and batch) and in the client', async () => {
    for (const id of [".", ".."]) {
      const single = await request("POST", "/v1/tasks", { id, name: "edge.task", runAt: far });
      expect(single.status).toBe(400);
      expectErrorShape(single.body);
      expect(single.body.error.field).toBe("id");
      const batch = await request("POST", "/v1/tasks/batch", { tasks: [{ id, name: "edge.task", runAt: far }] });
      expect(batch.status).toBe(200);
      expect(batch.body.results[0]).toMatchObject({ ok: false, status: 400, error: { field: "id" } });
      const refused = await client.schedule("edge.task", {}, { id, runAt: far }).catch((error) => error);
      expect(refused).toBeInstanceOf(TickwheelError);
      expect((refused as TickwheelError).field).toBe("id");
    }
  });

  test("ids with / ? # % and dots inside are addressable percent-encoded: read, moved, cancelled", async () => {
    for (const id of ["a/b", "../x", "q?x=1", "h#frag", "100%", "...", "a/./b", "\\back"]) {
      const created = await request("POST", "/v1/tasks", { id, name: "edge.task", runAt: far });
      expect(created.status).toBe(201);
      const path = `/v1/tasks/${encodeURIComponent(id)}`;
      const read = await request("GET", path);
      expect({ id, status: read.status, got: read.body.id }).toEqual({ id, status: 200, got: id });
      expect((await request("PATCH", path, { delay: "1d" })).status).toBe(200);
      const cancelled = await request("DELETE", path);
      expect({ id, status: cancelled.status, state: cancelled.body.task?.state ?? cancelled.body.state }).toEqual({ id, status: 200, state: "cancelled" });
    }
  });
});

describe("due times", () => {
  test("the last accepted instant, 9999-12-31T23:59:59.999Z, reads back as that date", async () => {
    const created = await request("POST", "/v1/tasks", { id: "last-instant", name: "edge.task", runAt: "9999-12-31T23:59:59.999Z" });
    expect(created.status).toBe(201);
    const read = await request("GET", "/v1/tasks/last-instant");
    expect(new Date(read.body.dueAt).toISOString()).toBe("9999-12-31T23:59:59.999Z");
  });

  test("beyond it (JavaScript's largest date, year 10000, a huge delay) or before 1970: 400 naming the field, nothing stored", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ runAt: 8.64e15 }, "runAt"],
      [{ runAt: "+275760-09-13T00:00:00Z" }, "runAt"],
      [{ runAt: Date.UTC(10000, 0, 1) }, "runAt"],
      [{ runAt: -1 }, "runAt"],
      [{ delay: "99999999d" }, "delay"],
      [{ delay: 8.6e15 }, "delay"],
      [{ runAt: far, expiresAt: 8.64e15 }, "expiresAt"],
    ];
    for (const [when, field] of cases) {
      const id = `edge-${field}-${JSON.stringify(when).length}-${Math.random().toString(36).slice(2, 6)}`;
      const response = await request("POST", "/v1/tasks", { id, name: "edge.task", ...when });
      expect({ when, status: response.status, field: response.body.error?.field }).toEqual({ when, status: 400, field });
      expect(await client.get(id)).toBeNull();
    }
    const moved = await request("POST", "/v1/tasks", { id: "edge-move", name: "edge.task", runAt: far });
    expect(moved.status).toBe(201);
    const patch = await request("PATCH", "/v1/tasks/edge-move", { runAt: 8.64e15 });
    expect(patch.status).toBe(400);
    expect(patch.body.error.field).toBe("runAt");
    expect((await client.get("edge-move"))!.dueAt).toBe(Date.parse(far));
  });
});
