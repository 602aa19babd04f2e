/**
 * The receiving end of the webhook benchmark cases: a keep-alive HTTP server
 * (Bun.serve) in its own process, as a team's endpoint would be, that notes
 * each delivery's arrival − dueAt (the lateness a receiver sees: the node's
 * start lateness plus the HTTP exchange) and answers 204 at once. Driven by
 * the orchestrator over IPC like the worker runners (protocol.ts);
 * BENCH_RECEIVER_PORT is the port to listen on, BENCH_CAPACITY the samples
 * kept.
 */
import { LatenessLog, serveRunner } from "./protocol.ts";

const lateness = new LatenessLog(Number(process.env.BENCH_CAPACITY ?? 1_000_000));
let received = 0;
const port = Number(process.env.BENCH_RECEIVER_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error("BENCH_RECEIVER_PORT must be a port");

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  async fetch(request) {
    const arrivedAt = Date.now();
    const body = (await request.json()) as { dueAt: number };
    lateness.record(arrivedAt - body.dueAt);
    received++;
    return new Response(null, { status: 204 });
  },
});

serveRunner({
  started: () => received,
  finished: () => received,
  lateness,
  stop: async () => {
    await server.stop(true);
  },
});
