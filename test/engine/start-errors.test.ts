// A node that cannot start says why in one line and exits non-zero.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../helpers/node.ts";

function start(env: Record<string, string>) {
  const result = Bun.spawnSync(["bun", join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", TICKWHEEL_LOG_LEVEL: "silent", ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: result.exitCode, stderr: result.stderr.toString().trim() };
}

test("an unreachable Redis: exit 1 and one line naming it, password hidden", () => {
  const { code, stderr } = start({ REDIS_URL: "redis://user:hunter22@127.0.0.1:1" });
  expect(code).toBe(1);
  expect(stderr.split("\n").length).toBe(1);
  expect(stderr).toContain("Redis unreachable at redis://user:***@127.0.0.1:1");
  expect(stderr).not.toContain("hunter22");
}, 40_000);

test("an embedded redis-server that cannot start: exit 1 and one line", () => {
  const { code, stderr } = start({ TICKWHEEL_DATA_DIR: "/proc/tickwheel-cannot-create-this" });
  expect(code).toBe(1);
  expect(stderr).toMatch(/^tickwheel: could not start the embedded redis-server: .+/);
  expect(stderr.split("\n").length).toBe(1);
}, 40_000);

test("a bad setting: exit 2 and one line naming the variable and what it expected", () => {
  const { code, stderr } = start({ TICKWHEEL_CONCURRENCY: "lots" });
  expect(code).toBe(2);
  expect(stderr).toBe('tickwheel: invalid configuration: TICKWHEEL_CONCURRENCY: expected an integer from 1 to 100000, got "lots"');
}, 40_000);
