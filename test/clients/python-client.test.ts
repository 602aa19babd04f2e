// The Python client (clients/python) with Debian's system Python against a real node process:
// installed with `pip install --no-index` (no PyPI: the package builds with its in-tree,
// standard-library backend), then its unittest suite runs against the node, whose Celery broker
// (db 1 of the same redis-server) a real Celery worker consumes, so schedule_celery runs end to
// end. Driven from bun test so CI runs it with everything else.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCeleryWorker, SYSTEM_PYTHON, type CeleryWorker } from "../helpers/celery-worker.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";

const TOKEN = "python-client-test-token";

let redis: RedisProcess;
let node: NodeProcess;
let worker: CeleryWorker;
let installDir: string;

async function run(command: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const proc = Bun.spawn(command, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: stdout + stderr };
}

beforeAll(async () => {
  redis = await startRedis();
  const celery = { TICKWHEEL_CELERY_BROKER_URL: `${redis.url}/1`, TICKWHEEL_CELERY_RESULT_URL: `${redis.url}/2` };
  worker = await startCeleryWorker({ brokerUrl: celery.TICKWHEEL_CELERY_BROKER_URL, resultUrl: celery.TICKWHEEL_CELERY_RESULT_URL, queues: ["celery", "bridgeq"] });
  node = await startNodeProcess({ redisUrl: redis.url, prefix: randomPrefix("py"), env: { TICKWHEEL_API_TOKEN: TOKEN, ...celery } });
  installDir = await mkdtemp(join(tmpdir(), "tickwheel-pyclient-"));
}, 60_000);

afterAll(async () => {
  await node?.terminate();
  await worker?.stop();
  await redis?.cleanup();
  if (installDir) await rm(installDir, { recursive: true, force: true });
});

test("pip installs the client with no package index, and its tests (schedule_celery with a real worker too) pass with the system Python against a node", async () => {
  const install = await run([SYSTEM_PYTHON, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--target", installDir, join(ROOT, "clients/python")]);
  expect(install.output).toContain("Successfully installed tickwheel-client");
  expect(install.code).toBe(0);

  // Run from the tests folder with only the installed copy on the path: the package that pip
  // installed is the one under test, not the source tree.
  const tests = await run(
    [SYSTEM_PYTHON, "-m", "unittest", "discover", "-s", join(ROOT, "clients/python/tests"), "-t", join(ROOT, "clients/python/tests"), "-v"],
    { PYTHONPATH: installDir, PYTHONDONTWRITEBYTECODE: "1", TICKWHEEL_TEST_URL: node.url, TICKWHEEL_TEST_TOKEN: TOKEN, TICKWHEEL_URL: node.url, TICKWHEEL_API_TOKEN: TOKEN },
    join(ROOT, "clients/python/tests"),
  );
  if (tests.code !== 0 || process.env.TEST_VERBOSE) console.error(tests.output);
  expect(tests.output).toMatch(/\nOK\b/);
  expect(tests.output).toMatch(/Ran ([1-9]\d+) tests/);
  expect(tests.code).toBe(0);
}, 120_000);
