// The embedded redis-server of `bun start`: data written before a stop is there after the next
// start on the same data dir (AOF), and stop() really ends the process.

import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { startEmbeddedRedis } from "../../src/node/embedded-redis.ts";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a key written before stop() is there after a restart on the same data dir", async () => {
  const parent = await mkdtemp(join(tmpdir(), "tickwheel-embedded-"));
  dirs.push(parent);
  const dataDir = join(parent, "data"); // does not exist yet: startEmbeddedRedis creates it
  const logs: string[] = [];
  const log = (msg: string) => logs.push(msg);

  const first = await startEmbeddedRedis({ dataDir, log });
  expect(first.url).toBe(`redis://127.0.0.1:${first.port}`);
  expect(logs.join("\n")).toContain(dataDir);
  expect(logs.join("\n")).toContain(String(first.port));
  const writer = new Redis(first.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  await writer.set("tickwheel:embedded", "durable");
  writer.disconnect();
  await first.stop();
  expect(isAlive(first.pid)).toBe(false);
  await first.stop(); // idempotent

  const second = await startEmbeddedRedis({ dataDir, log });
  try {
    const reader = new Redis(second.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    expect(await reader.get("tickwheel:embedded")).toBe("durable");
    reader.disconnect();
    expect(await Bun.file(join(dataDir, "redis.log")).exists()).toBe(true);
  } finally {
    await second.stop();
  }
});
