// The migration guides (docs/migrating): their "after" Python code is the files in
// docs/migrating/examples (checked block by block), and those files run end to end: a node with
// the Celery target, its broker consumed by a real Celery worker running the guides' app
// (docs/migrating/examples/tasks.py), and the examples driven by test/docs/migrating_examples_test.py
// with the system Python.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startCeleryWorker, SYSTEM_PYTHON, type CeleryWorker } from "../helpers/celery-worker.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";

const GUIDES = join(ROOT, "docs/migrating");
const EXAMPLES = join(GUIDES, "examples");

test("every \"after\" block of the guides is exactly the code of an example file that the tests run", () => {
  const examples = readdirSync(EXAMPLES).filter((name) => name.endsWith(".py")).map((name) => readFileSync(join(EXAMPLES, name), "utf8"));
  let blocks = 0;
  for (const guide of readdirSync(GUIDES).filter((name) => name.endsWith(".md"))) {
    const text = readFileSync(join(GUIDES, guide), "utf8");
    for (const match of text.matchAll(/```python after\n([\s\S]*?)```/g)) {
      blocks++;
      expect({ guide, found: examples.some((source) => source.includes(match[1]!)) }).toEqual({ guide, found: true });
    }
  }
  expect(blocks).toBe(4);
});

let tickwheelRedis: RedisProcess;
let brokerRedis: RedisProcess;
let worker: CeleryWorker;
let node: NodeProcess;

beforeAll(async () => {
  [tickwheelRedis, brokerRedis] = await Promise.all([startRedis(), startRedis()]);
  worker = await startCeleryWorker({
    brokerUrl: `${brokerRedis.url}/0`,
    resultUrl: `${brokerRedis.url}/1`,
    queues: ["celery", "billing"],
    app: "tasks",
    cwd: EXAMPLES,
  });
  node = await startNodeProcess({
    redisUrl: tickwheelRedis.url,
    prefix: randomPrefix("mig"),
    env: { TICKWHEEL_CELERY_BROKER_URL: `${brokerRedis.url}/0`, TICKWHEEL_CELERY_RESULT_URL: `${brokerRedis.url}/1` },
  });
}, 120_000);

afterAll(async () => {
  await node?.terminate();
  await worker?.stop();
  await Promise.all([tickwheelRedis?.cleanup(), brokerRedis?.cleanup()]);
});

test("the guides' after code runs against a node and a real Celery worker", async () => {
  const proc = Bun.spawn([SYSTEM_PYTHON, "-m", "unittest", "-v", "migrating_examples_test"], {
    cwd: join(ROOT, "test/docs"),
    env: {
      ...process.env,
      PYTHONPATH: [EXAMPLES, join(ROOT, "clients/python")].join(":"),
      PYTHONDONTWRITEBYTECODE: "1",
      TICKWHEEL_URL: node.url,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const output = stdout + stderr;
  if (code !== 0 || process.env.TEST_VERBOSE) console.error(output, "\n--- worker ---\n", worker.output(), "\n--- node ---\n", node.output());
  expect(output).toMatch(/Ran (\d+) tests/);
  expect(output).toMatch(/\nOK\b/);
  expect(code).toBe(0);
}, 180_000);
