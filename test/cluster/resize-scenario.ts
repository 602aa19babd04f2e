// The resize scenario the resharding tests share (docs/resharding.md): real node processes under a
// steady load of scheduling and firing, a resize requested twice at once (one wins, one 409), a
// reader polling random ids throughout, then the counts: no task lost, none run twice, none early,
// every id retrievable at every poll, and the lateness of the tasks due during the resize.
import { expect } from "bun:test";
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import { Client } from "../../src/client/client.ts";
import { keySlot } from "../../src/core/slot.ts";
import { parseOccurrenceId } from "../../src/task/occurrence-id.ts";
import { waitFor } from "../helpers/wait.ts";
import type { NodeProcess } from "../helpers/node.ts";
import { faultEnv, groupById, readRecords, type StartRecord } from "./cluster-helpers.ts";

/**
 * Node settings of the resize tests: the fault tests' short leases (a killed node's shards move
 * within seconds), and a visibility of 10 s: on a machine this loaded (load average 20 on 2
 * cores was seen) a node can stall past 2 s, and the reaper would then run a task a second time
 * (at-least-once, correct, but not what these tests look for).
 */
export const RESIZE_ENV = faultEnv(8, { TICKWHEEL_VISIBILITY_MS: "10000" });

/**
 * Lateness p99 bound of the tasks due during a resize. Generous: the figure measured here is
 * printed (docs/resharding.md records it); on a loaded machine lease handoffs of rebalanced shards
 * dominate it.
 */
export const LATENESS_P99_BOUND_MS = 10_000;

export interface ResizeLoad {
  client: Client;
  /** Due time of every task scheduled so far. */
  dueById: Map<string, number>;
  /** Reads (get by id) that found nothing, with the id. */
  misses: string[];
  reads: number;
  stop(): Promise<void>;
}

/**
 * Schedules a steady load: every 100 ms a batch of 10 tasks, half due within 0.3-4 s (they fire
 * during the move), half due up to an hour out (some go cold); and a reader that gets 10 random
 * known ids every 25 ms.
 */
export function startLoad(client: Client): ResizeLoad {
  const dueById = new Map<string, number>();
  const ids: string[] = [];
  const misses: string[] = [];
  let reads = 0;
  let running = true;
  const producer = (async () => {
    for (let round = 0; running; round++) {
      const now = Date.now();
      const requests = Array.from({ length: 10 }, (_, i) => {
        const dueMs = i < 5 ? now + 300 + Math.floor(Math.random() * 3700) : now + 30_000 + Math.floor(Math.random() * 3_570_000);
        return { task: "rec.run", args: {}, options: { runAt: dueMs } };
      });
      const results = await client.scheduleMany(requests);
      results.forEach((result, i) => {
        if (result instanceof Error) throw result;
        dueById.set(result.id, requests[i]!.options.runAt);
        ids.push(result.id);
      });
      await Bun.sleep(100);
    }
  })();
  const reader = (async () => {
    while (running) {
      if (ids.length > 0) {
        const sample = Array.from({ length: 10 }, () => ids[Math.floor(Math.random() * ids.length)]!);
        const views = await Promise.all(sample.map((id) => client.get(id)));
        reads += sample.length;
        views.forEach((view, i) => {
          if (view === null) misses.push(sample[i]!);
        });
      }
      await Bun.sleep(25);
    }
  })();
  return {
    client,
    dueById,
    misses,
    get reads() {
      return reads;
    },
    async stop() {
      running = false;
      await Promise.all([producer, reader]);
    },
  };
}

export interface ResizeStatusBody {
  state: "stable" | "preparing" | "resizing";
  count: number;
  resizingTo: number | null;
  epoch: number;
  slotsMoved: number;
  slotsTotal: number;
  tasksMoved: number;
}

export async function resizeStatus(url: string): Promise<ResizeStatusBody> {
  const response = await fetch(`${url}/admin/shards/resize`);
  if (!response.ok) throw new Error(`GET /admin/shards/resize answered ${response.status}`);
  return (await response.json()) as ResizeStatusBody;
}

/** Two resize requests at once, to two nodes: exactly one is accepted (202), the other refused (409). */
export async function requestResizeTwice(urls: [string, string], count: number): Promise<void> {
  const post = (url: string) =>
    fetch(`${url}/admin/shards/resize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ count }) });
  const [a, b] = await Promise.all([post(urls[0]), post(urls[1])]);
  expect([a.status, b.status].sort()).toEqual([202, 409]);
  const refused = (await (a.status === 409 ? a : b).json()) as { error: { code: string; field?: string } };
  expect(refused.error).toMatchObject({ code: "conflict", field: "count" });
}

/** Waits until the resize to `count` has finished (the map is stable at `count`). */
export async function waitResized(url: string, count: number, timeoutMs: number, nodes: readonly NodeLog[] = []): Promise<void> {
  let last: ResizeStatusBody | null = null;
  try {
    await waitFor(
      async () => {
        const status = await resizeStatus(url);
        last = status;
        return status.state === "stable" && status.count === count;
      },
      { timeoutMs, intervalMs: 200, message: `the resize to ${count} shards to finish` },
    );
  } catch (error) {
    // Where it stood (each source shard's phase and counts), so a resize that did not finish says why.
    console.error(`[resize] not finished after ${timeoutMs} ms; last progress: ${JSON.stringify(last)}`);
    printNodeWarnings(nodes);
    throw error;
  }
}

type NodeLog = Pick<NodeProcess, "nodeId" | "output">;

/**
 * What each node said about leases, reaps, resize steps and Redis calls (its last lines of
 * them): why a source stopped moving, or why a task ran again after a move.
 */
export function printNodeWarnings(nodes: readonly NodeLog[]): void {
  for (const node of nodes) {
    const lines = node.output().split("\n").filter((line) => /resize|lease|reap|fail|warn|error/i.test(line));
    console.error(`--- ${node.nodeId} (${lines.length} lines)\n${lines.slice(-60).join("\n")}`);
  }
}

export interface ResizeCheck {
  tasks: number;
  fired: number;
  pending: number;
  latenessP99Ms: number;
  latenessMaxMs: number;
  duringResize: number;
}

/**
 * The checks: every task due by `firedBy` started, exactly once (a second start only after a
 * killed node's attempt was reaped, with a higher attempt), never before its due time; every
 * other task is scheduled in its shard of `count`; the reader never missed.
 * Lateness is over the tasks due while the resize ran ([fromMs, toMs]).
 */
export async function checkOutcome(
  raw: Redis | Cluster,
  prefix: string,
  load: ResizeLoad,
  count: number,
  window: { fromMs: number; toMs: number },
  killedNode: string | null,
): Promise<ResizeCheck> {
  expect(load.misses).toEqual([]);
  const firedBy = Date.now() - 500;
  const shouldHaveFired = [...load.dueById].filter(([, due]) => due <= firedBy).map(([id]) => id);
  let records: StartRecord[] = [];
  await waitFor(
    async () => {
      records = await readRecords(raw as Redis, prefix);
      const started = new Set(records.map((r) => r.id));
      return shouldHaveFired.every((id) => started.has(id));
    },
    { timeoutMs: 30_000, intervalMs: 250, message: "every task due by now started" },
  ).catch((error) => {
    const started = new Set(records.map((r) => r.id));
    const lost = shouldHaveFired.filter((id) => !started.has(id));
    throw new Error(`${(error as Error).message}: ${lost.length} never started, e.g. ${lost.slice(0, 5).join(", ")}`);
  });
  const byId = groupById(records);
  const lateness: number[] = [];
  for (const [id, starts] of byId) {
    const due = load.dueById.get(id);
    if (due === undefined) continue;
    for (const start of starts) {
      if (start.atMs < due) throw new Error(`task ${id} started ${due - start.atMs} ms early`);
    }
    if (starts.length > 1) {
      const firstNode = starts[0]!.node;
      const reRun = starts.slice(1).every((s) => s.attempt > starts[0]!.attempt);
      if (!(killedNode !== null && firstNode === killedNode && reRun)) {
        throw new Error(`task ${id} started ${starts.length} times: ${JSON.stringify(starts)}`);
      }
    }
    if (due >= window.fromMs && due <= window.toMs) lateness.push(starts[0]!.atMs - due);
  }
  // Not due yet: still scheduled, in the shard the final map gives it.
  // (A wide margin: reading thousands of ids takes a while on a loaded machine.)
  const notYet = [...load.dueById].filter(([, due]) => due > Date.now() + 30_000).map(([id]) => id);
  const views = await Promise.all(notYet.map((id) => load.client.get(id)));
  views.forEach((view, i) => {
    expect(view?.state).toBe("scheduled");
    expect(view?.shard).toBe(keySlot(notYet[i]!) % count);
  });
  // One copy of each: no id in two shards' due sets, none left in a shard the map no longer has.
  const seen = new Map<string, number>();
  for (let shard = 0; shard < 32; shard++) {
    for (const id of await (raw as Redis).zrange(`${prefix}:{${shard}}:due`, "0", "-1")) {
      if (seen.has(id)) throw new Error(`task ${id} is in the due sets of shards ${seen.get(id)} and ${shard}`);
      seen.set(id, shard);
      if (shard >= count) throw new Error(`task ${id} left in shard ${shard}, beyond the ${count} shards`);
    }
    expect(await (raw as Redis).hlen(`${prefix}:{${shard}}:outbox`)).toBe(0);
  }
  lateness.sort((a, b) => a - b);
  const p99 = lateness.length ? lateness[Math.min(lateness.length - 1, Math.floor(lateness.length * 0.99))]! : 0;
  return {
    tasks: load.dueById.size,
    fired: shouldHaveFired.length,
    pending: notYet.length,
    latenessP99Ms: p99,
    latenessMaxMs: lateness[lateness.length - 1] ?? 0,
    duringResize: lateness.length,
  };
}

/** A schedule name whose slot moves in 8 <-> 32 (its shard differs between the two counts). */
export function movingScheduleName(label: string): string {
  for (let i = 0; ; i++) {
    const name = `${label}-${i}`;
    if (keySlot(name) % 8 !== keySlot(name) % 32) return name;
  }
}

/**
 * A recurring schedule every 200 ms that runs through the resizes (docs/resharding.md,
 * "Schedules"): misfire "all" and overlap "allow", so every occurrence is due to run whatever
 * the load, and one that did not is lost, not skipped by policy.
 */
export async function startBeat(client: Client, name: string): Promise<void> {
  await client.schedules.put(name, { every: "200ms", misfire: "all", overlap: "allow", task: { name: "rec.run", args: {} } });
}

/**
 * Stops the schedule, then checks its occurrences: each started once (attempt 1), and their times
 * follow each other every 200 ms from the first to the last, none missing. Returns how many ran.
 */
export async function checkBeat(raw: Redis | Cluster, prefix: string, client: Client, name: string): Promise<number> {
  await client.schedules.delete(name);
  // Occurrences already claimed finish; nothing new is planted.
  await Bun.sleep(1500);
  const records = (await readRecords(raw as Redis, prefix)).filter((r) => parseOccurrenceId(r.id)?.schedule === name);
  const byId = groupById(records);
  for (const [id, starts] of byId) {
    if (starts.length !== 1 || starts[0]!.attempt !== 1) throw new Error(`occurrence ${id} started ${starts.length} times: ${JSON.stringify(starts)}`);
  }
  const times = [...byId.keys()].map((id) => parseOccurrenceId(id)!.atMs).sort((a, b) => a - b);
  const gaps = times.slice(1).filter((at, i) => at - times[i]! !== 200).map((at, i) => `${new Date(times[i]!).toISOString()} -> ${new Date(at).toISOString()}`);
  expect(gaps).toEqual([]);
  return times.length;
}

/**
 * Tasks that run across their own move: 20 due within the next second, each running 3 s (the
 * recording handler sleeps), so the resize started now finds them running in their source shard
 * (a source waits for them in its tasks phase). Counted by checkOutcome like the others.
 */
export async function scheduleLongRunning(load: ResizeLoad): Promise<void> {
  const now = Date.now();
  const requests = Array.from({ length: 20 }, (_, i) => ({ task: "rec.run", args: { sleepMs: 3000 }, options: { runAt: now + 200 + i * 40 } }));
  const results = await load.client.scheduleMany(requests);
  results.forEach((result, i) => {
    if (result instanceof Error) throw result;
    load.dueById.set(result.id, requests[i]!.options.runAt);
  });
}
