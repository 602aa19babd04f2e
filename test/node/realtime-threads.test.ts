// TICKWHEEL_REALTIME_PRIORITY: every thread of a node under SCHED_FIFO, read back from the kernel
// (/proc/<pid>/task/<tid>/stat) of a real node process; refused without CAP_SYS_NICE, where the
// node says so in one line and runs on at normal priority; and the plan's bookkeeping on a fake
// kernel. The live tests need root (as CI and this machine run): SCHED_FIFO needs CAP_SYS_NICE.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { RealtimeThreads, type ThreadScheduler } from "../../src/node/realtime-threads.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

/** A fake kernel: the threads it lists now, the raise calls it got, the ids it refuses. */
function fakeKernel(): ThreadScheduler & { tids: number[]; calls: [number, number][]; refuse: Set<number> } {
  const kernel = {
    tids: [] as number[],
    calls: [] as [number, number][],
    refuse: new Set<number>(),
    threads: () => [...kernel.tids],
    raise: (tid: number, priority: number) => {
      kernel.calls.push([tid, priority]);
      return !kernel.refuse.has(tid);
    },
  };
  return kernel;
}

describe("RealtimeThreads (the plan, on a fake kernel)", () => {
  test("raises each thread once, and the threads that appear later on the next apply()", () => {
    const kernel = fakeKernel();
    kernel.tids = [100, 101, 102];
    const realtime = new RealtimeThreads(10, kernel);
    expect(realtime.apply()).toEqual({ raised: 3, threads: 3, refused: 0 });
    expect(realtime.apply()).toEqual({ raised: 3, threads: 3, refused: 0 });
    kernel.tids.push(103);
    expect(realtime.apply()).toEqual({ raised: 4, threads: 4, refused: 0 });
    expect(kernel.calls).toEqual([
      [100, 10],
      [101, 10],
      [102, 10],
      [103, 10],
    ]);
  });

  test("a refused thread is counted and not asked again; an ended one leaves, and its id coming back is a new thread", () => {
    const kernel = fakeKernel();
    kernel.tids = [1, 2];
    kernel.refuse.add(2);
    const realtime = new RealtimeThreads(5, kernel);
    expect(realtime.apply()).toEqual({ raised: 1, threads: 2, refused: 1 });
    expect(realtime.apply()).toEqual({ raised: 1, threads: 2, refused: 1 });
    kernel.tids = [2];
    expect(realtime.apply()).toEqual({ raised: 0, threads: 1, refused: 1 });
    kernel.tids = [1, 2];
    expect(realtime.apply()).toEqual({ raised: 1, threads: 2, refused: 1 });
    expect(kernel.calls.map(([tid]) => tid)).toEqual([1, 2, 1]);
  });

  test("a priority outside 1-99 is refused", () => {
    expect(() => new RealtimeThreads(0, fakeKernel())).toThrow("1-99");
    expect(() => new RealtimeThreads(100, fakeKernel())).toThrow("1-99");
  });
});

describe("TICKWHEEL_REALTIME_PRIORITY (config)", () => {
  const base = { REDIS_URL: "redis://127.0.0.1:6379" };
  test("off by default; 1-99 taken; anything else refused with the variable named", () => {
    expect(loadConfig(base).realtimePriority).toBe(0);
    expect(loadConfig({ ...base, TICKWHEEL_REALTIME_PRIORITY: "10" }).realtimePriority).toBe(10);
    for (const bad of ["100", "-1", "high"]) {
      let error: unknown;
      try {
        loadConfig({ ...base, TICKWHEEL_REALTIME_PRIORITY: bad });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).env).toBe("TICKWHEEL_REALTIME_PRIORITY");
    }
  });
});

/** Policy and real-time priority of each thread of a process, from the kernel. */
function threadPolicies(pid: number): { tid: number; name: string; policy: number; priority: number }[] {
  const out: { tid: number; name: string; policy: number; priority: number }[] = [];
  for (const entry of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${entry}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    // The name may hold spaces and parentheses: fields start after the last ")". Field 40 is
    // rt_priority and 41 policy (proc(5)); after the name, field 3 is the first.
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.push({ tid: Number(entry), name, priority: Number(fields[40 - 3]), policy: Number(fields[41 - 3]) });
  }
  return out;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("a node process with TICKWHEEL_REALTIME_PRIORITY", () => {
  let redis: RedisProcess;
  const nodes: NodeProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const node of nodes) await node.terminate().catch(() => {});
    await redis?.cleanup();
  });

  test("runs every thread under SCHED_FIFO at that priority, and /metrics counts them", async () => {
    const node = await startNodeProcess({ redisUrl: redis.url, prefix: randomPrefix("rt"), env: { TICKWHEEL_REALTIME_PRIORITY: "7", TICKWHEEL_LOG_LEVEL: "info" } });
    nodes.push(node);
    let threads: ReturnType<typeof threadPolicies> = [];
    await waitFor(
      () => {
        threads = threadPolicies(node.proc.pid);
        return threads.length > 1 && threads.every((t) => t.policy === 1 && t.priority === 7);
      },
      { timeoutMs: 10_000, message: "every thread of the node under SCHED_FIFO 7" },
    ).catch((error) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(threads)}`);
    });
    // The event loop's thread (tid = pid) among them, and the runtime's others (compiler, collector).
    expect(threads.some((t) => t.tid === node.proc.pid)).toBe(true);
    await waitFor(async () => (await metric(node.url, "tickwheel_realtime_threads")) === threadPolicies(node.proc.pid).length, {
      timeoutMs: 10_000,
      message: "tickwheel_realtime_threads to count every thread",
    });
    expect(node.output()).toContain("real-time scheduling (SCHED_FIFO)");
  }, 60_000);

  test("without CAP_SYS_NICE the kernel refuses: one warning naming the cause, normal priority, the node serves", async () => {
    const node = await startNodeProcess({
      redisUrl: redis.url,
      prefix: randomPrefix("rt"),
      env: { TICKWHEEL_REALTIME_PRIORITY: "7" },
      // util-linux' setpriv: the same root, minus the capability SCHED_FIFO needs.
      command: ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "bun", join(ROOT, "src/main.ts")],
    });
    nodes.push(node);
    expect(node.output()).toContain("TICKWHEEL_REALTIME_PRIORITY: the kernel refused SCHED_FIFO");
    expect(node.output().match(/refused SCHED_FIFO/g)?.length).toBe(1);
    expect(threadPolicies(node.proc.pid).every((t) => t.policy === 0)).toBe(true);
    expect(await metric(node.url, "tickwheel_realtime_threads")).toBe(0);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
  }, 60_000);

  test("off by default: every thread at normal priority", async () => {
    const node = await startNodeProcess({ redisUrl: redis.url, prefix: randomPrefix("rt") });
    nodes.push(node);
    expect(threadPolicies(node.proc.pid).every((t) => t.policy === 0)).toBe(true);
    expect(await metric(node.url, "tickwheel_realtime_threads")).toBe(0);
  }, 60_000);
});
