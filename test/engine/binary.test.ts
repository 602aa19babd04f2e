// `bun run build` makes dist/tickwheel (Lua embedded); the binary runs a node against a Redis
// and a task scheduled from outside fires.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

let redis: RedisProcess;
const binary = join(ROOT, "dist/tickwheel");

beforeAll(async () => {
  redis = await startRedis();
  const build = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`bun run build failed:\n${build.stderr.toString()}`);
}, 120_000);

afterAll(async () => {
  await redis?.cleanup();
});

test("the compiled binary runs a node and fires a task", async () => {
  expect(existsSync(binary)).toBe(true);
  const prefix = randomPrefix("bin");
  const node = await startNodeProcess({
    redisUrl: redis.url,
    prefix,
    nodeId: "binary",
    tasksModule: join(ROOT, "test/fixtures/engine-tasks.ts"),
    command: [binary, "start"],
  });
  const client = new Client({ redisUrl: redis.url, prefix });
  const raw = new Redis(redis.url);
  try {
    const { id, dueAt } = await client.schedule("rec.noop", {}, { delay: 200 });
    await waitFor(async () => (await client.get(id))?.state === "succeeded", { timeoutMs: 10_000, message: "task to succeed" }).catch((error) => {
      throw new Error(`${(error as Error).message}\n--- node output ---\n${node.output()}`);
    });
    const [line] = await raw.lrange(`${prefix}:starts`, 0, -1);
    const [startedId, nodeId, , at] = line!.split("|");
    expect(startedId).toBe(id);
    expect(nodeId).toBe("binary");
    expect(Number(at)).toBeGreaterThanOrEqual(dueAt);
    expect(await node.terminate()).toBe(0);
  } finally {
    node.kill9();
    raw.disconnect();
    await client.close();
  }
}, 60_000);
