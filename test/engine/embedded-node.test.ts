// `bun start` without REDIS_URL: the node runs its own redis-server (AOF, data dir), says where,
// takes it down with it even on kill -9, and finds its tasks again after a restart.
import { expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomPrefix, startNodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("embedded redis-server: durable across a kill -9 of the node, and dies with it", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "tickwheel-embedded-"));
  const prefix = randomPrefix("emb");
  const env = { TICKWHEEL_DATA_DIR: dataDir, TICKWHEEL_LOG_LEVEL: "info" };
  try {
    const first = await startNodeProcess({ prefix, env });
    const match = /redis embedded at redis:\/\/127\.0\.0\.1:(\d+), data in (\S+)\)/.exec(first.output());
    expect(match).not.toBeNull();
    expect(match![2]).toBe(dataDir);
    const redisPid = Number(/embedded redis-server ready: .*pid (\d+)/.exec(first.output())?.[1]);
    expect(redisPid).toBeGreaterThan(0);
    expect(alive(redisPid)).toBe(true);

    const created = (await (
      await fetch(`${first.url}/v1/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "survivor", name: "later", delay: "1h" }),
      })
    ).json()) as { created: boolean; dueAt: number };
    expect(created.created).toBe(true);
    // appendfsync everysec: give the AOF its second before pulling the plug.
    await Bun.sleep(1500);

    first.kill9();
    await first.proc.exited;
    await waitFor(() => !alive(redisPid), { timeoutMs: 5000, message: "embedded redis-server to die with the node" });
    expect(readdirSync(dataDir).some((name) => name.startsWith("appendonly") || name === "appendonlydir")).toBe(true);

    const second = await startNodeProcess({ prefix, env });
    try {
      const task = (await (await fetch(`${second.url}/v1/tasks/survivor`)).json()) as { state: string; dueAt: number };
      expect(task).toMatchObject({ state: "scheduled", dueAt: created.dueAt });
      expect(await second.terminate()).toBe(0);
    } finally {
      second.kill9();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}, 60_000);
