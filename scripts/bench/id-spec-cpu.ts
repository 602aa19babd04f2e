/**
 * The producer's per-task string work without Redis: a new id, the spec with
 * its args, the cold entry, and the join of a script call's entries (600 at
 * a time), for A/B comparisons of two trees in one sitting (BENCHMARKS.md,
 * "The eleventh session"). Runs against the tree it is started from:
 *
 *   (cd /path/to/tree && bun /path/to/scripts/bench/id-spec-cpu.ts)
 *
 * Prints the median and lowest µs of CPU per task over 15 rounds of 100,000.
 */
import { join } from "node:path";
const { newTaskId } = await import(join(process.cwd(), "src/core/ids.ts"));
const { encodeSpecWithArgs } = await import(join(process.cwd(), "src/task/codec.ts"));

const spec = { name: "bench.noop", priority: 0, maxAttempts: 3, backoff: { baseMs: 1000, maxMs: 3_600_000 }, timeoutMs: 300_000, expiresAt: null, target: { type: "handler" }, createdAt: Date.now() };
const COUNT = 100_000;
const ROUNDS = 15;
const perTask: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const before = process.cpuUsage();
  const entries: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    entries.push(`${newTaskId()}\t${spec.createdAt + i}\t${encodeSpecWithArgs(spec, JSON.stringify({ userId: i }))}`);
    if (entries.length === 600) {
      entries.join("\n");
      entries.length = 0;
    }
  }
  const used = process.cpuUsage(before);
  perTask.push((used.user + used.system) / COUNT);
}
perTask.sort((a, b) => a - b);
console.log(JSON.stringify({ tree: process.cwd(), medianUs: +perTask[ROUNDS >> 1]!.toFixed(3), lowestUs: +perTask[0]!.toFixed(3) }));
