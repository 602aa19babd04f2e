/**
 * The BullMQ side of the benchmark: one Worker in its own process with a
 * no-op processor that records start − due (due = the job's timestamp +
 * opts.delay, both set by BullMQ at add time; `job.delay` itself is reset
 * to 0 when BullMQ promotes the job) into a preallocated array.
 * Environment: REDIS_URL, BENCH_QUEUE, BENCH_CONCURRENCY, BENCH_CAPACITY.
 * Driven by the orchestrator over IPC (see protocol.ts).
 */
import { Worker } from "bullmq";
import { LatenessLog, serveRunner } from "./protocol.ts";

const url = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const lateness = new LatenessLog(Number(process.env.BENCH_CAPACITY ?? 1_000_000));
let started = 0;
let finished = 0;

const worker = new Worker(
  process.env.BENCH_QUEUE ?? "bench",
  async (job) => {
    started++;
    lateness.record(Date.now() - (job.timestamp + (job.opts.delay ?? 0)));
  },
  {
    connection: { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null },
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 100),
  },
);
worker.on("completed", () => {
  finished++;
});
worker.on("error", (error) => console.error("bullmq worker error:", error));
await worker.waitUntilReady();

serveRunner({
  started: () => started,
  finished: () => finished,
  lateness,
  stop: () => worker.close(true),
});
