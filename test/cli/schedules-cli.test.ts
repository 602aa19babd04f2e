// `tickwheel schedules put|put-many|get|list|pause|resume|delete` run as a real subprocess against a real
// node: readable output, --json, and the exit codes (2 for input the node refuses, naming the
// field; 3 for an unknown schedule).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startInProcessNode } from "../helpers/node.ts";

const ENTRY = join(ROOT, "src/cli/main.ts");
let redis: RedisProcess;
let node: TickwheelNode;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", ENTRY, ...args], { cwd: ROOT, env: { ...process.env, TICKWHEEL_URL: node.url! }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(9), 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix: randomPrefix("clisched") });
});
afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

test("put, get, list, pause, resume, delete", async () => {
  const put = await cli(["schedules", "put", "nightly", "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--task", "report.build", "--args", '{"kind":"daily"}']);
  expect(put.code).toBe(0);
  expect(put.stdout).toContain("created schedule nightly");
  expect(put.stdout).toMatch(/next\s+\d{4}-\d\d-\d\dT0[23]:[03]0:00\+0[12]:00/);

  const replaced = await cli(["schedules", "put", "nightly", "--body", JSON.stringify({ cron: "0 3 * * *", tz: "Europe/Berlin", task: { name: "report.build" } })]);
  expect(replaced.code).toBe(0);
  expect(replaced.stdout).toContain("replaced schedule nightly");

  const got = await cli(["schedules", "get", "nightly", "--json"]);
  expect(got.code).toBe(0);
  expect(JSON.parse(got.stdout)).toMatchObject({ name: "nightly", cron: "0 3 * * *", tz: "Europe/Berlin", paused: false });

  await cli(["schedules", "put", "tenant-1.sync", "--every", "1h", "--task", "sync"]);
  const list = await cli(["schedules", "list", "--prefix", "tenant-"]);
  expect(list.code).toBe(0);
  expect(list.stdout).toContain("tenant-1.sync");
  expect(list.stdout).not.toContain("nightly");

  const paused = await cli(["schedules", "pause", "nightly"]);
  expect(paused).toMatchObject({ code: 0, stdout: "paused nightly\n" });
  const resumed = await cli(["schedules", "resume", "nightly"]);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout).toMatch(/^resumed nightly; next due /);

  const deleted = await cli(["schedules", "delete", "nightly"]);
  expect(deleted).toMatchObject({ code: 0, stdout: "deleted schedule nightly\n" });
  expect((await cli(["schedules", "get", "nightly"])).code).toBe(3);
});

test("refused input exits 2 naming the field; usage errors exit 2", async () => {
  const badCron = await cli(["schedules", "put", "bad", "--cron", "61 * * * *", "--task", "x"]);
  expect(badCron.code).toBe(2);
  expect(badCron.stderr).toContain("cron");
  const tooFast = await cli(["schedules", "put", "bad", "--every", "10ms", "--task", "x"]);
  expect(tooFast.code).toBe(2);
  expect(tooFast.stderr).toContain("every");
  expect((await cli(["schedules", "put", "bad", "--every", "1m"])).code).toBe(2);
  expect((await cli(["schedules", "frobnicate"])).code).toBe(2);
  expect((await cli(["schedules", "get"])).code).toBe(2);
});

test("put-many stores a file of schedules; refused items are listed by index and field, exit 2", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tw-put-many-"));
  try {
    const file = join(dir, "schedules.json");
    const items: unknown[] = Array.from({ length: 25 }, (_, i) => ({ name: `bulk-${i}`, every: "1h", task: { name: "sync", args: [i] } }));
    await writeFile(file, JSON.stringify(items));
    const ok = await cli(["schedules", "put-many", file]);
    expect(ok).toMatchObject({ code: 0, stdout: "created 25, replaced 0, failed 0\n" });
    items[3] = { name: "bulk-3", cron: "61 * * * *", task: { name: "sync" } };
    await writeFile(file, JSON.stringify({ schedules: items }));
    const mixed = await cli(["schedules", "put-many", file]);
    expect(mixed.code).toBe(2);
    expect(mixed.stdout).toContain("created 0, replaced 24, failed 1");
    expect(mixed.stdout).toContain("item 3 (bulk-3): cron: ");
    const got = await cli(["schedules", "get", "bulk-7", "--json"]);
    expect(JSON.parse(got.stdout)).toMatchObject({ name: "bulk-7", every: 3_600_000, task: { name: "sync", args: [7] } });
    expect((await cli(["schedules", "put-many", join(dir, "missing.json")])).code).toBe(2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
