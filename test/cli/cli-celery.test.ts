// `tickwheel schedule --celery TASK [--queue Q] [--kwargs JSON]` as a real subprocess against a
// real node: the target is stored and shown by `get`, and bad input exits 2 naming the field.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startInProcessNode } from "../helpers/node.ts";

const ENTRY = join(ROOT, "src/cli/main.ts");
let redis: RedisProcess;
let node: TickwheelNode;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", ENTRY, ...args], {
    cwd: ROOT,
    env: { ...process.env, TICKWHEEL_URL: node.url!, TICKWHEEL_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix: randomPrefix("clicel") });
});

afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

test("schedule --celery stores the target (name defaults to the Celery task) and get shows it", async () => {
  const scheduled = await cli(["schedule", "--celery", "app.tasks.send_email", "--queue", "mail", "--kwargs", '{"template":"x"}', "--args", '["ada@example.com"]', "--in", "1h", "--id", "cli-celery-1"]);
  expect(scheduled).toMatchObject({ code: 0, stderr: "" });
  const shown = await cli(["get", "cli-celery-1"]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/^name\s+app\.tasks\.send_email$/m);
  expect(shown.stdout).toMatch(/^target\s+celery app\.tasks\.send_email \(queue mail\)$/m);
  const json = JSON.parse((await cli(["get", "cli-celery-1", "--json"])).stdout);
  expect(json.target).toEqual({ type: "celery", task: "app.tasks.send_email", queue: "mail", kwargs: { template: "x" } });
  expect(json.args).toEqual(["ada@example.com"]);
}, 30_000);

test("bad celery input exits 2 and names the field", async () => {
  const badName = await cli(["schedule", "--celery", "not a name", "--in", "1h"]);
  expect(badName.code).toBe(2);
  expect(badName.stderr).toContain("target.task");
  const badArgs = await cli(["schedule", "--celery", "app.tasks.x", "--args", '{"x":1}', "--in", "1h"]);
  expect(badArgs.code).toBe(2);
  expect(badArgs.stderr).toContain("args");
  const queueAlone = await cli(["schedule", "app.tasks.x", "--queue", "mail", "--in", "1h"]);
  expect(queueAlone.code).toBe(2);
  expect(queueAlone.stderr).toContain("--celery");
}, 30_000);
