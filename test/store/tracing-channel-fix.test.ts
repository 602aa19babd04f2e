// Bun's TracingChannel lacks Node's `hasSubscribers`, and ioredis 6 then traced every command with
// nobody listening (src/store/tracing-channel-fix.ts). With the getter: no tracing unless a
// subscriber is there, and a subscriber still gets every command.
import { afterAll, beforeAll, expect, test } from "bun:test";
import diagnostics from "node:diagnostics_channel";
import { openConnection, type Connection } from "../../src/store/connection.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";

let redis: RedisProcess;
let connection: Connection;
beforeAll(async () => {
  redis = await startRedis();
  connection = openConnection({ redisUrl: redis.url }, "tracing-test");
});
afterAll(async () => {
  connection.disconnect();
  await redis.cleanup();
});

test("a tracing channel answers hasSubscribers as Node's does: false until something subscribes", () => {
  const channel = diagnostics.tracingChannel("tickwheel:test");
  expect(channel.hasSubscribers).toBe(false);
  const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  channel.subscribe(handlers);
  expect(channel.hasSubscribers).toBe(true);
  channel.unsubscribe(handlers);
  expect(channel.hasSubscribers).toBe(false);
});

test("ioredis commands are traced only while someone listens on ioredis:command", async () => {
  const seen: string[] = [];
  const handlers = {
    start(context: unknown) {
      seen.push((context as { command: string }).command);
    },
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  };
  await connection.set("k", "v");
  expect(seen).toEqual([]);
  diagnostics.tracingChannel("ioredis:command").subscribe(handlers);
  await connection.get("k");
  diagnostics.tracingChannel("ioredis:command").unsubscribe(handlers);
  await connection.get("k");
  expect(seen).toEqual(["get"]);
});
