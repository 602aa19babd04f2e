/**
 * One run of the scale-out case (run/scale-out.ts): a fresh topology (one
 * redis-server or a 3-master Redis Cluster, scale-topology.ts), 1 or more node
 * processes (node-runner.ts, each its own TICKWHEEL_NODE_ID) on a given shard
 * count, and the bench process as the producer. In one sitting, after a
 * warm-up and once the shards' leases are spread over the nodes:
 *
 * - idle: every process's CPU over 2 s with nothing due (leases, heartbeats,
 *   refills, the cluster bus): the cost that does not depend on the rate;
 * - enqueue: `count` tasks due at one instant T, scheduled in bulk calls of
 *   10,000; the producer's and each master's CPU over it (scheduling's cost);
 * - burst: from T − 20 ms until the last task finished, the nodes' and each
 *   master's CPU (claiming, starting and finishing's cost) and the throughput;
 *   each node is told how many tasks its shards hold, so its last completion
 *   is timed to the ms inside it;
 * - steady: `rate` tasks a second for `seconds`, due 0.1–3 s after they are
 *   scheduled, lateness (start − due) over every node's samples merged, and
 *   every process's CPU over the whole window (the whole life of a task).
 *
 * CPU is utime + stime from /proc/<pid>/stat; "per task" divides a process's
 * CPU over a window by the tasks of that window. Each master's figure is over
 * all tasks, so a cluster's masters add up to Redis' whole cost per task, and
 * each master's share follows the shards it holds.
 */
import { Client } from "../../src/client/client.ts";
import { CpuMeter, cpuSeconds } from "./process-stats.ts";
import { BENCH_TASK, LatenessLog, type LatenessSummary } from "./protocol.ts";
import { startTopology, type Layout, type Topology } from "./scale-topology.ts";
import type { RunnerProcess, System } from "./systems.ts";

export interface ScaleConfig {
  layout: Layout;
  shards: number;
  nodes: number;
}

export interface ScaleSettings {
  /** Tasks due at one instant in the burst. */
  burstCount: number;
  /** Steady tasks per second and for how long. */
  rate: number;
  seconds: number;
  /** TICKWHEEL_CONCURRENCY of every node. */
  concurrency: number;
}

export interface ScaleResult {
  config: ScaleConfig;
  /** Shards whose keys each master holds (one entry on a single server). */
  shardsPerMaster: number[];
  /** CPU with nothing due, % of a core: the nodes together, and each master. */
  idle: { nodeCpu: number; redisCpu: number[] };
  enqueue: { tasksPerSecond: number; producerUs: number; redisUs: number[] };
  burst: {
    count: number;
    firstStartMs: number;
    medianStartMs: number;
    lastStartMs: number;
    lastCompletionMs: number;
    tasksPerSecond: number;
    early: number;
    /** Tasks each node started. */
    perNode: number[];
    /** Claimed tasks the nodes dropped unstarted (lease in doubt; at claim depth > 1 also a wait near its deadline): the reaper returns them after the visibility deadline. */
    dropped: number;
    /** CPU µs per task, T − 20 ms → last completion: the nodes together, and each master. */
    nodeUs: number;
    redisUs: number[];
    /** Length of the CPU window (T − 20 ms → the last completion, as the orchestrator saw it). */
    wallSeconds: number;
    machineCpu: number;
  };
  steady: {
    rate: number;
    seconds: number;
    lateness: LatenessSummary;
    notStarted: number;
    producerBehind: boolean;
    perNode: number[];
    dropped: number;
    /** CPU µs per task over the whole steady window: the nodes together, each master, the producer. */
    nodeUs: number;
    redisUs: number[];
    producerUs: number;
    /** Length of the window the CPU was measured over (the rate's seconds plus the drain). */
    wallSeconds: number;
    machineCpu: number;
  };
}

/** Tasks per bulk call, as in the other cases. */
const BULK = 10_000;
/** Time between starting the burst's enqueue and T (the burst case's tickwheel lead). */
const LEAD_MS = 10_000;
const WARM_UP_TASKS = 2_000;
const IDLE_WINDOW_MS = 2_000;
/** A 2-node sitting starts once each node holds its balanced share of leases. */
const BALANCE_TIMEOUT_MS = 60_000;
const BURST_DEADLINE_MS = 180_000;
/** How often the orchestrator asks the nodes for their counts: light on them, fine enough for a CPU window. */
const POLL_MS = 20;
const MIN_DELAY_MS = 100;
const MAX_DELAY_MS = 3_000;
const PRODUCER_TICK_MS = 5;
/** Steady: after the last due time, how long unstarted tasks are waited for. */
const DRAIN_MS = 10_000;

/** CPU seconds of several processes since construction, and the machine's busy share. */
class CpuWindow {
  private readonly start: number[];
  private readonly machine = new CpuMeter([]);
  private readonly startedAt = performance.now();

  constructor(private readonly pids: number[]) {
    this.start = pids.map(cpuSeconds);
  }

  seconds(): number[] {
    return this.pids.map((pid, i) => cpuSeconds(pid) - this.start[i]!);
  }

  wallSeconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  machineBusy(): number {
    return this.machine.machineBusy();
  }
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const perTaskUs = (seconds: number, tasks: number) => (tasks > 0 ? (seconds * 1e6) / tasks : NaN);

export async function scaleCase(system: System, config: ScaleConfig, settings: ScaleSettings): Promise<ScaleResult> {
  const topology = await startTopology(config.layout);
  const runners: RunnerProcess[] = [];
  let client: Client | undefined;
  try {
    const nodeIds = Array.from({ length: config.nodes }, (_, i) => `bench-${i + 1}`);
    const capacity = Math.max(settings.burstCount, Math.round(settings.rate * settings.seconds)) + WARM_UP_TASKS;
    for (const nodeId of nodeIds) {
      runners.push(
        await system.startRunner(topology.redisUrl, capacity, {
          concurrency: settings.concurrency,
          env: {
            TICKWHEEL_SHARDS: String(config.shards),
            TICKWHEEL_NODE_ID: nodeId,
            ...(topology.clusterNodes ? { REDIS_CLUSTER_NODES: topology.clusterNodes } : {}),
          },
        }),
      );
    }
    await waitBalanced(topology, config.shards, nodeIds);
    client = new Client({ ...(topology.clusterNodes ? { clusterNodes: topology.clusterNodes.split(",") } : { redisUrl: topology.redisUrl }), shards: config.shards });
    const add = producer(client);
    const shardsPerMaster = topology.masters.map((_, m) => Array.from({ length: config.shards }, (_, k) => k).filter((k) => topology.masterOf(k) === m).length);

    await warmUp(runners, add);
    const nodePids = runners.map((runner) => runner.pid);
    const masterPids = topology.masters.map((master) => master.pid);

    // ---- idle
    await Bun.sleep(500);
    const idleWindow = new CpuWindow([...nodePids, ...masterPids]);
    await Bun.sleep(IDLE_WINDOW_MS);
    const idleSeconds = idleWindow.seconds();
    const idleWall = idleWindow.wallSeconds();
    const idle = {
      nodeCpu: (100 * sum(idleSeconds.slice(0, nodePids.length))) / idleWall,
      redisCpu: idleSeconds.slice(nodePids.length).map((s) => (100 * s) / idleWall),
    };

    // ---- enqueue a burst due at T
    const count = settings.burstCount;
    const dueMs = Date.now() + LEAD_MS;
    const enqueueWindow = new CpuWindow(masterPids);
    const producerCpu = process.cpuUsage();
    await enqueueAll(add, count, () => dueMs);
    const enqueueWall = enqueueWindow.wallSeconds();
    const producerSeconds = sumCpu(process.cpuUsage(producerCpu));
    const enqueue = {
      tasksPerSecond: count / enqueueWall,
      producerUs: perTaskUs(producerSeconds, count),
      redisUs: enqueueWindow.seconds().map((s) => perTaskUs(s, count)),
    };
    if (Date.now() > dueMs - 500) throw new Error(`scale-out: enqueueing ${count} took longer than the ${LEAD_MS} ms lead`);

    // ---- the burst
    const expected = await expectedPerNode(topology, config.shards, nodeIds);
    if (sum(expected) !== count) throw new Error(`scale-out: the shards' due sets hold ${sum(expected)} of the burst's ${count} tasks before T`);
    runners.forEach((runner, i) => runner.expect(expected[i]!));
    await Bun.sleep(Math.max(0, dueMs - 20 - Date.now()));
    const burstWindow = new CpuWindow([...nodePids, ...masterPids]);
    const finishedAt = await waitFinished(runners, count, dueMs + BURST_DEADLINE_MS);
    const burstSeconds = burstWindow.seconds();
    const burstWall = burstWindow.wallSeconds();
    const burstMachine = burstWindow.machineBusy();
    if (finishedAt === null) throw new Error(`scale-out: the burst of ${count} did not finish within ${BURST_DEADLINE_MS / 1000} s`);
    const burstReports = await Promise.all(runners.map((runner) => runner.report({ samples: true })));
    const burstLateness = merge(burstReports.map((report) => report.samples ?? []), count);
    // Each node timed its own last completion (it knew its count); the last of them ends the burst.
    const nodesDone = burstReports.map((report) => report.allFinishedAt);
    const lastCompletionAt = nodesDone.every((at) => at !== null) ? Math.max(...(nodesDone as number[])) : finishedAt;
    const lastCompletionMs = lastCompletionAt - dueMs;
    const burst = {
      count,
      firstStartMs: burstLateness.min!,
      medianStartMs: burstLateness.p50!,
      lastStartMs: burstLateness.max!,
      lastCompletionMs,
      tasksPerSecond: count / (Math.max(1, lastCompletionMs - burstLateness.min!) / 1000),
      early: burstLateness.early,
      perNode: burstReports.map((report) => report.started),
      dropped: sum(burstReports.map((report) => report.dropped ?? 0)),
      nodeUs: perTaskUs(sum(burstSeconds.slice(0, nodePids.length)), count),
      redisUs: burstSeconds.slice(nodePids.length).map((s) => perTaskUs(s, count)),
      wallSeconds: burstWall,
      machineCpu: burstMachine,
    };

    // ---- steady
    for (const runner of runners) runner.reset();
    await Bun.sleep(1_000);
    const steady = await steadyRun(runners, add, nodePids, masterPids, settings.rate, settings.seconds);

    return { config, shardsPerMaster, idle, enqueue, burst, steady };
  } finally {
    await client?.close();
    await Promise.all(runners.map((runner) => runner.stop()));
    await topology.cleanup();
  }
}

type Add = (tasks: { dueMs: number; userId: number }[]) => Promise<void>;

function producer(client: Client): Add {
  return async (tasks) => {
    const results = await client.scheduleMany(tasks.map((task) => ({ task: BENCH_TASK, args: { userId: task.userId }, options: { runAt: task.dueMs } })));
    for (const result of results) {
      if (result instanceof Error || !result.created) throw new Error(`tickwheel did not create a task: ${String(result)}`);
    }
  };
}

async function enqueueAll(add: Add, count: number, dueOf: (i: number) => number): Promise<void> {
  for (let start = 0; start < count; start += BULK) {
    const batch: { dueMs: number; userId: number }[] = [];
    for (let i = start; i < Math.min(count, start + BULK); i++) batch.push({ dueMs: dueOf(i), userId: i });
    await add(batch);
  }
}

const sumCpu = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

/** Waits until every shard's lease is held, each node holding between floor and ceil of shards / nodes. */
async function waitBalanced(topology: Topology, shards: number, nodeIds: string[]): Promise<void> {
  const low = Math.floor(shards / nodeIds.length);
  const high = Math.ceil(shards / nodeIds.length);
  const deadline = Date.now() + BALANCE_TIMEOUT_MS;
  let owners: (string | null)[] = [];
  while (Date.now() < deadline) {
    owners = await Promise.all(Array.from({ length: shards }, (_, k) => topology.leaseOwner(k)));
    const held = nodeIds.map((id) => owners.filter((owner) => owner === id).length);
    if (owners.every((owner) => owner !== null && nodeIds.includes(owner)) && held.every((n) => n >= low && n <= high)) return;
    await Bun.sleep(100);
  }
  throw new Error(`scale-out: leases not spread over ${nodeIds.join(", ")} within ${BALANCE_TIMEOUT_MS / 1000} s (owners: ${owners.join(" ")})`);
}

/** Tasks waiting in the shards each node holds the lease of. */
async function expectedPerNode(topology: Topology, shards: number, nodeIds: string[]): Promise<number[]> {
  const perShard = await Promise.all(Array.from({ length: shards }, async (_, k) => [await topology.leaseOwner(k), await topology.dueCount(k)] as const));
  return nodeIds.map((id) => sum(perShard.filter(([owner]) => owner === id).map(([, due]) => due)));
}

/** Warms every node up (JIT, connections) with a couple of thousand tasks, then zeroes their counters. */
async function warmUp(runners: RunnerProcess[], add: Add): Promise<void> {
  for (const runner of runners) runner.reset();
  const now = Date.now();
  await add(Array.from({ length: WARM_UP_TASKS }, (_, i) => ({ dueMs: now + 200 + (i % 200), userId: -1 - i })));
  if ((await waitFinished(runners, WARM_UP_TASKS, Date.now() + 30_000)) === null) throw new Error(`scale-out: warm-up of ${WARM_UP_TASKS} tasks did not finish within 30 s`);
  for (const runner of runners) runner.reset();
}

/** Date.now() when the nodes together had finished `count` tasks (to within POLL_MS), null at the deadline. */
async function waitFinished(runners: RunnerProcess[], count: number, deadlineMs: number): Promise<number | null> {
  for (;;) {
    const reports = await Promise.all(runners.map((runner) => runner.report({ lateness: false })));
    if (sum(reports.map((report) => report.finished)) >= count) return Date.now();
    if (Date.now() >= deadlineMs) return null;
    await Bun.sleep(POLL_MS);
  }
}

/** Every node's samples as one set; `missing` tasks that never started count as `floorMs` (a lower bound). */
function merge(sampleSets: number[][], expected: number, floorMs = 0): LatenessSummary {
  const log = new LatenessLog(expected);
  for (const samples of sampleSets) for (const sample of samples) log.record(sample);
  return log.summary(Math.max(0, expected - log.count), floorMs);
}

async function steadyRun(runners: RunnerProcess[], add: Add, nodePids: number[], masterPids: number[], rate: number, seconds: number): Promise<ScaleResult["steady"]> {
  const total = Math.round(rate * seconds);
  const window = new CpuWindow([...nodePids, ...masterPids]);
  const producerCpu = process.cpuUsage();
  const started = performance.now();
  let added = 0;
  let inFlight = 0;
  let producerBehind = false;
  let lastDueMs = 0;
  const calls: Promise<void>[] = [];
  while (added < total) {
    const target = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
    if (target > added && inFlight < 20) {
      const batch: { dueMs: number; userId: number }[] = [];
      const now = Date.now();
      for (let i = added; i < target; i++) {
        const dueMs = now + MIN_DELAY_MS + Math.floor(Math.random() * (MAX_DELAY_MS - MIN_DELAY_MS));
        if (dueMs > lastDueMs) lastDueMs = dueMs;
        batch.push({ dueMs, userId: i });
      }
      added = target;
      inFlight++;
      calls.push(add(batch).finally(() => inFlight--));
    } else if (inFlight >= 20) {
      producerBehind = true;
    }
    await Bun.sleep(PRODUCER_TICK_MS);
  }
  await Promise.all(calls);
  await waitFinished(runners, total, lastDueMs + DRAIN_MS);
  const cpu = window.seconds();
  const wallSeconds = window.wallSeconds();
  const machineCpu = window.machineBusy();
  const producerSeconds = sumCpu(process.cpuUsage(producerCpu));
  const reports = await Promise.all(runners.map((runner) => runner.report({ samples: true })));
  const startedCount = sum(reports.map((report) => report.started));
  // Every unstarted task was due by lastDueMs, so it is at least this late: counted so, the
  // percentiles they reach are lower bounds.
  const lateness = merge(reports.map((report) => report.samples ?? []), total, Math.max(0, Date.now() - lastDueMs));
  return {
    rate,
    seconds,
    lateness,
    notStarted: Math.max(0, total - startedCount),
    producerBehind,
    perNode: reports.map((report) => report.started),
    dropped: sum(reports.map((report) => report.dropped ?? 0)),
    nodeUs: perTaskUs(sum(cpu.slice(0, nodePids.length)), total),
    redisUs: cpu.slice(nodePids.length).map((s) => perTaskUs(s, total)),
    producerUs: perTaskUs(producerSeconds, total),
    wallSeconds,
    machineCpu,
  };
}
