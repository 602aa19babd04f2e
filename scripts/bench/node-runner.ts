/**
 * The tickwheel side of the benchmark: one node in its own process (so its CPU
 * and RSS are its own), with a no-op task whose handler records start − due
 * into a preallocated array. Configured by the environment like `bun start`
 * (REDIS_URL, TICKWHEEL_*), plus BENCH_CAPACITY (how many samples to keep).
 * Driven by the orchestrator over IPC (see protocol.ts).
 */
import { z } from "zod";
import { loadConfig } from "../../src/config/config.ts";
import { TickwheelNode } from "../../src/node/node.ts";
import { startServedNode } from "../../src/node/serve-node.ts";
import { silentLogger } from "../../src/core/log.ts";
import { defineTask } from "../../src/task/define-task.ts";
import { BENCH_TASK, LatenessLog, serveRunner } from "./protocol.ts";
import { sharedClock } from "../../src/core/coalescing-clock.ts";
import { ShardActor } from "../../src/shard/shard-actor.ts";
import { TimerWheel } from "../../src/core/timer-wheel.ts";

const lateness = new LatenessLog(Number(process.env.BENCH_CAPACITY ?? 1_000_000));
let started = 0;

// A realistic task: a schema on its args (validated per attempt, as for any user task) and a
// handler that does nothing but note when it started.
// BENCH_TRACE: starts more than LATE_MS late, as [ms since the runner started, lateness].
const lateStarts: [number, number][] = [];
const t0 = Date.now();
const trace = !!process.env.BENCH_TRACE;
/** The tail the issue's targets are about (p99 of 2-6 ms): starts later than this are traced. */
const LATE_MS = 2;
defineTask(BENCH_TASK, z.object({ userId: z.number() }), (_args, ctx) => {
  started++;
  const late = Date.now() - ctx.dueAt;
  lateness.record(late);
  if (trace && late > LATE_MS) lateStarts.push([Date.now() - t0, late]);
});

const node = new TickwheelNode(loadConfig({ ...process.env, PORT: "0" }), silentLogger());
if (process.env.BENCH_TRACE) traceStore(node);
// Served like a real node, so its RSS figure includes the HTTP app.
await startServedNode(node);

serveRunner({
  started: () => started,
  finished: () => node.completer.counts.finished,
  lateness,
  stop: () => node.stop(),
  dropped: () => node.pool.counts.dropped,
});

/**
 * BENCH_TRACE=1: logs every claim, finish and window read (when issued, how long until the reply,
 * how many tasks) to stderr at exit. For finding what a figure waits on, not for the table.
 */
function traceStore(target: TickwheelNode): void {
  const lines: string[] = [];
  const t0 = Date.now();
  const store = target.store.attempts as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of ["claim", "finish", "window"]) {
    const original = store[method]!.bind(target.store.attempts);
    store[method] = async (...args: unknown[]) => {
      const issued = performance.now();
      const at = Date.now() - t0;
      const result = await original(...args);
      const size = Array.isArray(result)
        ? result.length
        : result && typeof result === "object" && "tasksRead" in result
          ? (result as { tasksRead: number }).tasksRead
          : result && typeof result === "object" && "tasks" in result
            ? (result as { tasks: unknown[] }).tasks.length
            : String(result);
      const detail = method === "claim" ? ` limit ${String(args[3])}` : method === "finish" ? ` items ${(args[4] as unknown[]).length}` : "";
      lines.push(`${at} ${method} shard ${String(args[0])}${detail} -> ${size} in ${(performance.now() - issued).toFixed(1)} ms`);
      return result;
    };
  }
  // Every command the node's connection sends: name -> [calls, args].
  const commands = new Map<string, [number, number]>();
  const storeInternals = target.store as unknown as { runner: { redis: unknown }; wakes: { subscriber?: unknown } };
  const connection = (storeInternals.runner as unknown as { redis: { sendCommand: (command: { name: string; args: unknown[] }, ...rest: unknown[]) => unknown; pipeline: () => unknown } }).redis;
  const send = connection.sendCommand.bind(connection);
  // Auto-pipelines made: one per event-loop turn that sent anything, i.e. one socket write each.
  let pipelines = 0;
  const makePipeline = connection.pipeline.bind(connection);
  connection.pipeline = () => {
    pipelines++;
    return makePipeline();
  };
  // The rest (a pipeline's stream) is passed on: without it every command of an automatic
  // pipeline went out in a socket write of its own, and the trace measured that instead.
  connection.sendCommand = (command, ...rest) => {
    const entry = commands.get(command.name) ?? [0, 0];
    entry[0]++;
    entry[1] += command.args.length;
    commands.set(command.name, entry);
    return send(command, ...rest);
  };
  // Event-loop wakeups: timers fired through the shared clock, and socket reads.
  const wakeups = { timers: 0, reads: 0, subscriberReads: 0, writes: 0, writtenBytes: 0, writeMs: 0 };
  const writeKinds = new Map<string, number>();
  process.on("exit", () => console.error("writes by what they carried:", JSON.stringify([...writeKinds].sort((a, b) => b[1] - a[1]).slice(0, 20))));
  const clockBase = (sharedClock as unknown as { base: { setTimer: (fn: () => void, ms: number) => unknown } }).base;
  const baseSetTimer = clockBase.setTimer;
  (sharedClock as unknown as { base: unknown }).base = {
    ...clockBase,
    setTimer: (fn: () => void, ms: number) => baseSetTimer(() => {
      wakeups.timers++;
      fn();
    }, ms),
  };
  setTimeout(() => {
    const main = storeInternals.runner.redis as { stream: NodeJS.EventEmitter };
    const subscriber = storeInternals.wakes.subscriber as { stream: NodeJS.EventEmitter } | null | undefined;
    main.stream.on("data", () => wakeups.reads++);
    // Socket writes of the main connection: each is a syscall (on this VM tens of µs).
    const stream = main.stream as unknown as { write: (chunk: string | Uint8Array, ...rest: unknown[]) => boolean };
    const write = stream.write.bind(stream);
    stream.write = (chunk, ...rest) => {
      wakeups.writes++;
      // What each write carried: its commands (scripts by their first key's suffix), e.g. "evalsha:due+evalsha:tasks".
      if (typeof chunk === "string") {
        const names = [...chunk.matchAll(/\*\d+\r\n\$\d+\r\n(\w+)\r\n(?:\$40\r\n\w{40}\r\n\$\d+\r\n\d+\r\n\$\d+\r\n[^\r]*:(\w+)\r\n)?/g)].map((m) => m[1] + (m[2] ? ":" + m[2] : ""));
        const key = names.length > 3 ? `${names.length} commands` : names.join("+");
        writeKinds.set(key, (writeKinds.get(key) ?? 0) + 1);
      } else writeKinds.set("buffer", (writeKinds.get("buffer") ?? 0) + 1);
      wakeups.writtenBytes += typeof chunk === "string" ? chunk.length : chunk.byteLength;
      // Wall time spent inside write() (the syscall included): what the profile calls writeBuffered.
      const began = performance.now();
      const result = write(chunk, ...rest);
      wakeups.writeMs += performance.now() - began;
      return result;
    };
    subscriber?.stream.on("data", () => wakeups.subscriberReads++);
  }, 3000);
  // Event-loop lag: a 5 ms interval notes how late it ran, worst per 100 ms.
  const lag = new Map<number, number>();
  // For each stall of 5 ms or more: how much CPU this process used over it (main thread and GC
  // threads together): about the stall's length means it was busy (JS or GC), far less that it
  // was not running (the other processes had both cores).
  const stalls: { wallMs: number; cpuMs: number }[] = [];
  let expectedAt = performance.now() + 5;
  let lastAt = performance.now();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const slot = Math.floor((Date.now() - t0) / 100) * 100;
    const late = Math.round(now - expectedAt);
    lag.set(slot, Math.max(lag.get(slot) ?? 0, late));
    if (late >= 5) stalls.push({ wallMs: now - lastAt, cpuMs: (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000 });
    lastAt = now;
    lastCpu = cpu;
    expectedAt = now + 5;
  }, 5);
  setInterval(() => {
    const stats = [...Array(target.shards).keys()].map((shard) => target.actor(shard)?.stats());
    const late = stats.reduce((sum, st) => sum + (st?.claimedLate ?? 0), 0);
    const leads = stats.map((st) => st?.leadMs ?? 0);
    const held = stats.reduce((sum, st) => sum + (st?.held ?? 0), 0);
    const window = stats.reduce((sum, st) => sum + (st?.windowSize ?? 0), 0);
    const pool = target.pool as unknown as { free: number; reserved: number; inFlight: number; capacityWaiters: Set<unknown> };
    lines.push(
      `${Date.now() - t0} actors: claimedLate ${late}, lead ${Math.min(...leads)}-${Math.max(...leads)} ms, held ${held}, window ${window}; ` +
        `pool free ${pool.free} reserved ${pool.reserved} running ${pool.inFlight} waiters ${pool.capacityWaiters.size}; finished ${target.completer.counts.finished}; ` +
        `clock error ${target.clock.errorMs} ms, Redis-clock estimate − Date.now() ${(target.clock.now() - Date.now()).toFixed(0)} ms`,
    );
  }, 500);
  // Long synchronous steps of the actors and wheels: when they ran and how long they took (> 2 ms).
  const slowSteps: string[] = [];
  const timeMethod = (proto: Record<string, unknown>, name: string) => {
    const original = proto[name] as (...args: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      const began = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const took = performance.now() - began;
        // The actor's message type says which step it was (claimed, refilled, hold-due, ...).
        const kind = (args[0] as { type?: string } | undefined)?.type;
        if (took > 2) slowSteps.push(`${Date.now() - t0} ${name}${kind ? `:${kind}` : ""} ${took.toFixed(1)} ms`);
      }
    };
  };
  timeMethod(ShardActor.prototype as unknown as Record<string, unknown>, "handle");
  // When the first hold timers fired, against the due ms of what they start.
  const holdLog: string[] = [];
  const actorProto = ShardActor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const onHoldDue = actorProto.onHoldDue!;
  actorProto.onHoldDue = function (this: { held: { earliestDueMs(): number | undefined } }, ...args: unknown[]) {
    const first = this.held.earliestDueMs();
    if (holdLog.length < 2000) holdLog.push(`${Date.now() - t0} hold-due for ${first === undefined ? "-" : first - t0}`);
    return onHoldDue.apply(this, args);
  };
  process.on("exit", () => console.error("holds:", holdLog.slice(-20).join("; ")));
  // With BUN_JSC_logGC, a time mark every 10 ms places the GC lines in time.
  if (process.env.BUN_JSC_logGC) setInterval(() => console.error(`mark ${Date.now() - t0}`), 10);
  timeMethod(TimerWheel.prototype as unknown as Record<string, unknown>, "fireDue");
  process.on("exit", () => {
    console.error("slow steps:", slowSteps.join("; "));
    console.error("event-loop lag (worst ms per 100 ms):", JSON.stringify([...lag].filter(([, ms]) => ms >= 5)));
    const busy = stalls.filter((stall) => stall.cpuMs >= 0.7 * stall.wallMs).length;
    console.error(`stalls >= 5 ms: ${stalls.length}, busy (CPU >= 70 % of the stall) ${busy}, not running ${stalls.length - busy}:`, JSON.stringify(stalls.slice(0, 60).map((stall) => [Math.round(stall.wallMs), Math.round(stall.cpuMs)])));
    console.error(lines.join("\n"));
    console.error("wakeups:", JSON.stringify(wakeups));
    // Late starts per 100 ms of runner time: count and worst lateness.
    const bySlot = new Map<number, [number, number]>();
    for (const [at, late] of lateStarts) {
      const slot = Math.floor(at / 100) * 100;
      const entry = bySlot.get(slot) ?? [0, 0];
      entry[0]++;
      entry[1] = Math.max(entry[1], late);
      bySlot.set(slot, entry);
    }
    console.error(`late starts (>${LATE_MS} ms) per 100 ms [at, count, worst]:`, JSON.stringify([...bySlot].map(([slot, [count, worst]]) => [slot, count, worst])));
    // Where the tail comes from: late starts in 100-ms slots where the event loop itself stalled
    // (a timer ran >= 5 ms late: GC, a long step, the machine) against the rest, and the tasks
    // whose claim came back after their due ms (the claim lead did not cover the round trip).
    let inStalls = 0;
    for (const [at] of lateStarts) if ((lag.get(Math.floor(at / 100) * 100) ?? 0) >= 5) inStalls++;
    const claimedLate = [...Array(target.shards).keys()].reduce((sum, shard) => sum + (target.actor(shard)?.stats().claimedLate ?? 0), 0);
    console.error(
      `tail: ${lateStarts.length} starts > ${LATE_MS} ms late of ${started}; ${inStalls} of them in 100-ms slots with an event-loop stall >= 5 ms, ` +
        `${lateStarts.length - inStalls} outside; ${claimedLate} tasks claimed after their due ms (warm-up included)`,
    );
    console.error("commands sent (calls, args):", JSON.stringify([...commands]), "pipelines (writes):", pipelines);
  });
}
