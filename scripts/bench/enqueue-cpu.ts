/**
 * The producer's and Redis' CPU per task for `Client.scheduleMany` (the
 * enqueue case's work: bulk calls of 10,000 tasks due in an hour, so cold
 * tier), for A/B comparisons of two trees in one sitting: CPU per task is
 * what bounds enqueue throughput, and it moves far less with a busy machine
 * than tasks/s does. Runs against the tree it is started from:
 *
 *   (cd /path/to/tree && bun /path/to/scripts/bench/enqueue-cpu.ts [rounds])
 *
 * Prints one JSON array: per round of 100,000 tasks, tasks/s and µs of CPU
 * per task of the producer (this process) and of its private redis-server.
 */
import { join } from "node:path";
import { startRedis } from "../../test/helpers/redis-server.ts";
import { cpuSeconds } from "./process-stats.ts";
const { Client } = await import(join(process.cwd(), "src/client/client.ts"));
const redis = await startRedis();
const client = new Client({ redisUrl: redis.url, shards: 16 });
const BULK = 10_000, COUNT = 100_000, HOUR = 3_600_000;
async function all(n: number) {
  for (let s = 0; s < n; s += BULK) {
    const batch = [];
    for (let i = s; i < Math.min(n, s + BULK); i++) batch.push({ task: "bench.noop", args: { userId: i }, options: { runAt: Date.now() + HOUR } });
    const r = await client.scheduleMany(batch);
    for (const x of r) if (x instanceof Error || !x.created) throw new Error(String(x));
  }
}
await all(20_000);
const out = [];
for (let round = 0; round < Number(process.argv[2] ?? 3); round++) {
  const c0 = process.cpuUsage(); const r0 = cpuSeconds(redis.pid); const t0 = performance.now();
  await all(COUNT);
  const wall = performance.now() - t0; const c = process.cpuUsage(c0); const r = cpuSeconds(redis.pid) - r0;
  out.push({ perSec: Math.round(COUNT / wall * 1000), producerUs: +((c.user + c.system) / COUNT).toFixed(2), redisUs: +(r * 1e6 / COUNT).toFixed(2) });
}
console.log(JSON.stringify(out));
await client.close();
await redis.cleanup();
process.exit(0);
