// The `tickwheel` CLI run as a real subprocess (bun src/cli/main.ts) against a real node: readable
// tables, --json, and exit codes that mean something (0 ok, 2 usage/refused input, 3 not found,
// 4 conflict, 5 unauthorized, 6 unreachable); `start --help`, configuration errors (one line
// naming the variable or flag), and the refusal to listen on a non-loopback address without a token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { describeSettings } from "../../src/config/config.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const TOKEN = "cli-test-token-0123456789abcdef";
const ENTRY = join(ROOT, "src/cli/main.ts");
const SLOW = 30_000;
let failing = true;
defineTask("cli.flaky", z.object({}), () => {
  if (failing) throw new Error("cli flaky failure");
  return "ok";
}, { maxAttempts: 1 });

let redis: RedisProcess;
let node: TickwheelNode;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000): Promise<Run> {
  const proc = Bun.spawn(["bun", ENTRY, ...args], {
    cwd: ROOT,
    env: { ...process.env, TICKWHEEL_URL: node.url!, TICKWHEEL_API_TOKEN: TOKEN, TICKWHEEL_LOG_LEVEL: "warn", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill(9), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix: randomPrefix("cli"), env: { TICKWHEEL_API_TOKEN: TOKEN } });
});

afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

describe("talking to a node", () => {
  test("schedule --in, get, cancel: readable output, --json, and exit codes 0, 3, 4", async () => {
    const scheduled = await cli(["schedule", "cli.task", "--in", "10m", "--args", '{"to":"ada"}', "--id", "cli-1"]);
    expect(scheduled).toMatchObject({ code: 0, stderr: "" });
    expect(scheduled.stdout).toMatch(/^scheduled cli-1 \(shard \d+\), due \d{4}-\d\d-\d\dT.*\(in 10 min\)\n$/);
    const again = await cli(["schedule", "cli.task", "--in", "1h", "--id", "cli-1"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("cli-1 already exists");

    const shown = await cli(["get", "cli-1"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^id\s+cli-1$/m);
    expect(shown.stdout).toMatch(/^state\s+scheduled$/m);
    expect(shown.stdout).toMatch(/^args\s+\{"to":"ada"\}$/m);
    const json = await cli(["get", "cli-1", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: "cli-1", name: "cli.task", state: "scheduled", args: { to: "ada" } });

    const cancelled = await cli(["cancel", "cli-1"]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toStartWith("cancelled cli-1");
    const conflict = await cli(["cancel", "cli-1"]);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toContain("task is cancelled");
    const missing = await cli(["get", "no-such-task"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim()).toBe('tickwheel: no task with id "no-such-task"');
  }, SLOW);

  test("schedule --at with an ISO time; input errors exit 2 and name the problem", async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await cli(["schedule", "cli.task", "--at", at, "--json"]);
    expect(scheduled.code).toBe(0);
    expect(JSON.parse(scheduled.stdout)).toMatchObject({ created: true, dueAt: Date.parse(at) });

    const cases: [string[], RegExp][] = [
      [["schedule", "cli.task"], /exactly one of --in DURATION or --at TIME/],
      [["schedule", "cli.task", "--in", "1m", "--at", at], /exactly one of/],
      [["schedule", "cli.task", "--in", "1m", "--args", "{nope"], /--args: expected JSON/],
      [["schedule", "cli.task", "--in", "soon"], /delay/],
      [["schedule", "cli.task", "--at", "tomorrow"], /runAt/],
      [["schedule", "--in", "1m"], /needs a task name/],
      [["schedule", "cli.task", "--in", "1m", "--colour", "red"], /unknown option --colour/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["dead"], /dead needs/],
      [["schedule", "cli.task", "--in", "1m", "--webhook", "http://169.254.169.254/latest/"], /target\.url: refused: 169\.254\.169\.254 is a cloud metadata address/],
      [["schedule", "cli.task", "--in", "1m", "--webhook", "not a url"], /target\.url/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
    }
  }, SLOW);

  test("schedule --webhook: the task's target is a webhook to that URL, and get shows it", async () => {
    const scheduled = await cli(["schedule", "cli.hook", "--in", "1h", "--id", "cli-hook-1", "--webhook", "https://hooks.example.com/cli"]);
    expect(scheduled).toMatchObject({ code: 0, stderr: "" });
    const shown = await cli(["get", "cli-hook-1"]);
    expect(shown.stdout).toMatch(/^target\s+webhook https:\/\/hooks\.example\.com\/cli$/m);
    expect(JSON.parse((await cli(["get", "cli-hook-1", "--json"])).stdout).target).toEqual({ type: "webhook", url: "https://hooks.example.com/cli" });
  }, SLOW);

  test("shards and nodes print one row per shard / node; --json gives the node's answer", async () => {
    const shards = await cli(["shards"]);
    expect(shards.code).toBe(0);
    const lines = shards.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^SHARD\s+OWNER\s+EPOCH\s+DUE \(COLD\)\s+IN FLIGHT\s+DEAD\s+NEXT DUE\s+FIRED\s+LATENESS P50\/P99$/);
    expect(lines).toHaveLength(1 + node.shards);
    for (const line of lines.slice(1)) expect(line).toContain(node.nodeId);
    const json = JSON.parse((await cli(["shards", "--json"])).stdout);
    expect(json.shards).toHaveLength(node.shards);

    const nodes = await cli(["nodes"]);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout.split("\n")[0]).toMatch(/^NODE\s+ADDRESS\s+SHARDS/);
    expect(nodes.stdout).toContain(node.nodeId);
  }, SLOW);

  test("dead list and dead retry: the dead task is listed, requeued, and runs", async () => {
    failing = true;
    const scheduled = JSON.parse((await cli(["schedule", "cli.flaky", "--in", "0", "--json"])).stdout);
    await waitFor(async () => (await node.client.get(scheduled.id))?.state === "dead", { timeoutMs: 5000, message: "task to die" });
    const dead = await cli(["dead", "list"]);
    expect(dead.code).toBe(0);
    expect(dead.stdout).toMatch(/^ID\s+NAME\s+ATTEMPTS\s+DIED\s+LAST ERROR$/m);
    expect(dead.stdout).toMatch(new RegExp(`^${scheduled.id}\\s+cli.flaky\\s+1/1\\s+.*Error: cli flaky failure$`, "m"));
    expect(JSON.parse((await cli(["dead", "list", "--json", "--name", "cli.flaky"])).stdout).tasks.map((t: any) => t.id)).toEqual([scheduled.id]);

    failing = false;
    const retried = await cli(["dead", "retry", scheduled.id]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toStartWith(`requeued ${scheduled.id}`);
    await waitFor(async () => (await node.client.get(scheduled.id))?.state === "succeeded", { timeoutMs: 5000, message: "retried task to succeed" });
    expect((await cli(["dead", "retry", scheduled.id])).code).toBe(4);
    expect((await cli(["dead", "retry", "never-was"])).code).toBe(3);
    expect((await cli(["dead", "list"])).stdout.trim()).toBe("no dead tasks");
  }, SLOW);

  test("pause, paused, resume", async () => {
    expect((await cli(["pause", "cli.paused"])).stdout).toStartWith("paused cli.paused");
    expect((await cli(["paused"])).stdout).toMatch(/^cli\.paused\s+\d{4}-/m);
    expect((await cli(["resume", "cli.paused"])).stdout).toBe("resumed cli.paused: 0 parked tasks requeued\n");
    expect((await cli(["paused"])).stdout.trim()).toBe("no paused task names");
  }, SLOW);

  test("exit 5 for a wrong token, 6 for an unreachable node, 0 with --help", async () => {
    const denied = await cli(["shards"], { TICKWHEEL_API_TOKEN: "wrong-token-0123456789" });
    expect(denied.code).toBe(5);
    expect(denied.stderr).toContain("wrong bearer token");
    const noToken = await cli(["shards", "--json"], { TICKWHEEL_API_TOKEN: undefined });
    expect(noToken.code).toBe(5);
    expect(JSON.parse(noToken.stdout).error.code).toBe("unauthorized");
    const unreachable = await cli(["get", "x", "--url", "http://127.0.0.1:1"]);
    expect(unreachable.code).toBe(6);
    expect(unreachable.stderr).toContain("cannot reach the node at http://127.0.0.1:1");
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["start", "schedule", "get", "cancel", "shards", "nodes", "dead list", "dead retry"]) expect(help.stdout).toContain(command);
    expect((await cli([])).code).toBe(2);
  }, SLOW);
});

describe("tickwheel start", () => {
  test("--help lists every setting with its flag, variable and default", async () => {
    const help = await cli(["start", "--help"]);
    expect(help.code).toBe(0);
    for (const setting of describeSettings()) {
      const line = help.stdout.split("\n").find((l) => l.includes(` ${setting.env} `));
      expect({ env: setting.env, found: line !== undefined }).toEqual({ env: setting.env, found: true });
      if (setting.defaultValue) expect(line).toContain(`(default ${setting.defaultValue})`);
    }
    expect(help.stdout).toMatch(/--shards VALUE\s+TICKWHEEL_SHARDS/);
    expect(help.stdout).toMatch(/--redis-url VALUE\s+REDIS_URL/);
    expect(help.stdout).toMatch(/--allow-insecure\s+TICKWHEEL_ALLOW_INSECURE/);
  }, SLOW);

  test("a bad value stops it with one line naming the variable (or flag) and what it expected", async () => {
    const badEnv = await cli(["start"], { TICKWHEEL_SHARDS: "many", REDIS_URL: redis.url });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr.trim()).toBe('tickwheel: invalid configuration: TICKWHEEL_SHARDS: expected an integer from 1 to 16384, got "many"');
    const badFlag = await cli(["start", "--concurrency", "0", "--redis-url", redis.url]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr.trim()).toBe('tickwheel: invalid configuration: --concurrency (TICKWHEEL_CONCURRENCY): expected an integer from 1 to 100000, got "0"');
    const badUrl = await cli(["start"], { REDIS_URL: "http://nope" });
    expect(badUrl.stderr.trim().split("\n")).toHaveLength(1);
    expect(badUrl.stderr).toContain("REDIS_URL");
    const unknown = await cli(["start", "--turbo"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option --turbo");
  }, SLOW);

  test("refuses a non-loopback address without a token; runs with --allow-insecure and stops on SIGTERM", async () => {
    const refused = await cli(["start", "--host", "0.0.0.0", "--redis-url", redis.url], { TICKWHEEL_API_TOKEN: undefined });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain("TICKWHEEL_HOST: refusing to listen on 0.0.0.0 without TICKWHEEL_API_TOKEN");
    expect((await cli(["start", "--host", "127.0.0.1", "--port", "-1"], { TICKWHEEL_API_TOKEN: undefined })).code).toBe(2);

    const proc = Bun.spawn(
      ["bun", ENTRY, "start", "--host", "0.0.0.0", "--allow-insecure", "--port", "0", "--redis-url", redis.url, "--prefix", randomPrefix("clistart"), "--shards", "2", "--log-level", "warn"],
      { cwd: ROOT, env: { ...process.env, TICKWHEEL_API_TOKEN: undefined }, stdout: "pipe", stderr: "pipe" },
    );
    try {
      let output = "";
      void (async () => {
        for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) output += new TextDecoder().decode(chunk);
      })();
      await waitFor(() => /listening on (http:\/\/\S+)/.test(output), { timeoutMs: 15_000, message: "node started by the CLI to listen" });
      const url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
      const shards = (await (await fetch(`${url}/admin/shards`)).json()) as { shards: unknown[] };
      expect(shards.shards).toHaveLength(2);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill(9);
    }
  }, SLOW);
});
