// The Celery target end to end: a node (in this process) schedules tasks with
// { type: "celery" } over HTTP, and at their due time a real Celery worker (Debian's python3-celery)
// runs them from the broker. Both hand-off ways: a broker on another redis-server (push, then
// finish) and the broker on tickwheel's own server (one script); and a broker stopped at the due
// time and restarted 5 s later.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import type { TickwheelNode } from "../../../src/node/node.ts";
import { FIXTURE_RUNS_KEY, startCeleryWorker, type CeleryWorker } from "../../helpers/celery-worker.ts";
import { randomPrefix, startInProcessNode } from "../../helpers/node.ts";
import { startRedis, type RedisProcess } from "../../helpers/redis-server.ts";
import { waitFor } from "../../helpers/wait.ts";

interface Run {
  id: string;
  task: string;
  routing_key: string;
  at: number;
}

async function post(node: TickwheelNode, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${node.url}/v1/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

async function getTask(node: TickwheelNode, id: string): Promise<any> {
  return (await fetch(`${node.url}/v1/tasks/${encodeURIComponent(id)}`)).json();
}

async function runsOf(results: Redis, id: string): Promise<Run[]> {
  return (await results.lrange(FIXTURE_RUNS_KEY, 0, -1)).map((line) => JSON.parse(line) as Run).filter((run) => run.id === id);
}

/**
 * Waits until GET shows Celery's stored result (the worker ran it) and tickwheel's own end of the
 * task (no longer scheduled or running), and returns the task view. With a separate broker the
 * task is pushed, then finished: its final state is written with the node's next acks (up to one
 * ack-grid step later, README "Guarantees"), so a quick worker can store its result first.
 */
async function celeryDone(node: TickwheelNode, id: string, timeoutMs = 30_000): Promise<any> {
  let task: any;
  await waitFor(
    async () => {
      task = await getTask(node, id);
      return task.celery !== undefined && task.celery.state !== "PENDING" && task.state !== "running" && task.state !== "scheduled";
    },
    { timeoutMs, intervalMs: 50, message: `celery result of ${id} in GET /v1/tasks/:id` },
  );
  return task;
}

const uid = (label: string) => `${label}-${crypto.randomUUID()}`;

for (const layout of ["separate broker", "broker on tickwheel's server"] as const) {
  describe(`celery target, ${layout}`, () => {
    let tickwheelRedis: RedisProcess;
    let brokerRedis: RedisProcess | undefined;
    let worker: CeleryWorker;
    let node: TickwheelNode;
    let broker: Redis;
    let results: Redis;

    beforeAll(async () => {
      tickwheelRedis = await startRedis();
      if (layout === "separate broker") brokerRedis = await startRedis();
      const brokerUrl = brokerRedis ? `${brokerRedis.url}/0` : `${tickwheelRedis.url}/1`;
      const resultUrl = brokerRedis ? `${brokerRedis.url}/1` : `${tickwheelRedis.url}/2`;
      broker = new Redis(brokerUrl);
      results = new Redis(resultUrl);
      worker = await startCeleryWorker({ brokerUrl, resultUrl, queues: ["celery", "bridgeq"] });
      node = await startInProcessNode({
        redisUrl: tickwheelRedis.url,
        prefix: randomPrefix("cel"),
        env: { TICKWHEEL_CELERY_BROKER_URL: brokerUrl, TICKWHEEL_CELERY_RESULT_URL: resultUrl },
      });
    }, 90_000);

    afterAll(async () => {
      await node?.stop();
      await worker?.stop();
      broker?.disconnect();
      results?.disconnect();
      await Promise.all([tickwheelRedis?.cleanup(), brokerRedis?.cleanup()]);
    });

    test("a task scheduled 2 s ahead is not on the broker before it is due, then runs exactly once with its result in GET", async () => {
      const id = uid("add");
      const created = await post(node, { id, name: "tw.add", args: [2, 3], delay: 2000, target: { type: "celery", task: "tw.add" } });
      expect(created.status).toBe(201);
      const dueAt: number = created.json.dueAt;
      // Until just before the due time: nothing on the queue, nothing run.
      while (Date.now() < dueAt - 150) {
        expect(await broker.llen("celery")).toBe(0);
        expect(await runsOf(results, id)).toEqual([]);
        await Bun.sleep(100);
      }
      const task = await celeryDone(node, id);
      expect(task.celery).toMatchObject({ state: "SUCCESS", result: 5 });
      expect(task.state).toBe("succeeded");
      expect(task.target).toEqual({ type: "celery", task: "tw.add" });
      expect(node.celeryHandoff).toBe(layout === "separate broker" ? "push, then finish" : "one script");
      await Bun.sleep(500);
      const runs = await runsOf(results, id);
      expect(runs.length).toBe(1);
      expect(runs[0]!.at * 1000).toBeGreaterThanOrEqual(dueAt - 5);
      expect(worker.output()).not.toMatch(/Unrecoverable error/);
    }, 60_000);

    test("kwargs, a custom queue and a priority reach the worker as given", async () => {
      const id = uid("echo");
      const target = { type: "celery", task: "tw.echo", queue: "bridgeq", priority: 7, kwargs: { to: "ada@example.com", n: 2 } };
      const created = await post(node, { id, name: "tw.echo", args: ["hello", 1], delay: 1000, target });
      expect(created.status).toBe(201);
      const task = await celeryDone(node, id);
      expect(task.celery).toMatchObject({ state: "SUCCESS", result: { args: ["hello", 1], kwargs: { to: "ada@example.com", n: 2 } } });
      expect(task.target).toEqual(target);
      await Bun.sleep(500);
      const runs = await runsOf(results, id);
      expect(runs.length).toBe(1);
      expect(runs[0]!.routing_key).toBe("bridgeq");
    }, 60_000);

    test("a batch of 200 due together is pushed once each", async () => {
      const ids = Array.from({ length: 200 }, (_, i) => uid(`b${i}`));
      const response = await fetch(`${node.url}/v1/tasks/batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tasks: ids.map((id, i) => ({ id, name: "tw.add", args: [i, 1], delay: 800, target: { type: "celery", task: "tw.add" } })) }),
      });
      expect(((await response.json()) as { created: number }).created).toBe(200);
      await waitFor(async () => (await Promise.all(ids.map((id) => results.exists(`celery-task-meta-${id}`)))).every(Boolean), {
        timeoutMs: 60_000,
        intervalMs: 100,
        message: "200 celery results",
      });
      await Bun.sleep(500);
      const all = (await results.lrange(FIXTURE_RUNS_KEY, 0, -1)).map((line) => JSON.parse(line) as Run);
      for (const id of ids) expect(all.filter((run) => run.id === id).length).toBe(1);
      expect(JSON.parse((await results.get(`celery-task-meta-${ids[7]}`))!).result).toBe(8);
    }, 90_000);
  });
}

describe("celery target: the broker is down at the due time", () => {
  let tickwheelRedis: RedisProcess;
  let brokerRedis: RedisProcess;
  let worker: CeleryWorker;
  let node: TickwheelNode;
  let results: Redis;

  beforeAll(async () => {
    [tickwheelRedis, brokerRedis] = await Promise.all([startRedis(), startRedis({ appendonly: true, appendfsync: "always" })]);
    const resultUrl = `${tickwheelRedis.url}/1`;
    results = new Redis(resultUrl);
    worker = await startCeleryWorker({ brokerUrl: `${brokerRedis.url}/0`, resultUrl });
    node = await startInProcessNode({
      redisUrl: tickwheelRedis.url,
      prefix: randomPrefix("celdown"),
      env: { TICKWHEEL_CELERY_BROKER_URL: `${brokerRedis.url}/0`, TICKWHEEL_CELERY_RESULT_URL: resultUrl },
    });
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    await worker?.stop();
    results?.disconnect();
    await Promise.all([tickwheelRedis?.cleanup(), brokerRedis?.cleanup()]);
  });

  test("a broker stopped at the due time and restarted 5 s later still gets the task, once", async () => {
    const id = uid("down");
    const created = await post(node, { id, name: "tw.add", args: [20, 22], delay: 1500, target: { type: "celery", task: "tw.add" } });
    expect(created.status).toBe(201);
    const dueAt: number = created.json.dueAt;
    await Bun.sleep(Math.max(0, dueAt - 300 - Date.now()));
    await brokerRedis.stop();
    // Past the due time with the broker down: the task is kept, waiting between pushes that fail,
    // with no attempt used (it is "running" while a push is tried, so poll for a waiting moment).
    let waiting: any;
    await waitFor(
      async () => {
        waiting = await getTask(node, id);
        return waiting.state === "scheduled" && /Celery broker unreachable/.test(waiting.lastError ?? "");
      },
      { timeoutMs: 4_500, intervalMs: 25, message: "the task waiting for the broker" },
    );
    expect(waiting.attempt).toBe(0);
    await Bun.sleep(Math.max(0, dueAt + 5000 - Date.now()));
    expect((await getTask(node, id)).state).not.toBe("dead");
    await brokerRedis.restart();

    const task = await celeryDone(node, id, 90_000);
    expect(task.celery).toMatchObject({ state: "SUCCESS", result: 42 });
    expect(task.state).toBe("succeeded");
    await Bun.sleep(1000);
    expect((await runsOf(results, id)).length).toBe(1);
  }, 150_000);
});
