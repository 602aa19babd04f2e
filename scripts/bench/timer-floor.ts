/**
 * The machine's floor for a timed start: `bun scripts/bench/timer-floor.ts
 * <seconds>` keeps one timer armed for the next millisecond but one, as a
 * node's held start is, and records Date.now() minus the due ms when it
 * fires, for `seconds`; then prints the summary as one JSON line.
 *
 * It does no other work, so its lateness is only what the machine adds: the
 * OS scheduling a process that wants a core while the worker, Redis and the
 * producer are using both (2 cores here). The steady case runs it beside
 * every run, of both systems, so each lateness row has the floor of the same
 * minute beside it (cases.ts steadyCase). It costs about 1 % of a core.
 */
import { LatenessLog } from "./protocol.ts";

const seconds = Number(process.argv[2]);
if (!(seconds > 0)) {
  console.error("usage: bun scripts/bench/timer-floor.ts <seconds>");
  process.exit(2);
}
const log = new LatenessLog(Math.ceil(seconds * 1000) + 1000);
const endAt = Date.now() + seconds * 1000;

function arm(): void {
  const now = Date.now();
  if (now >= endAt) {
    console.log(JSON.stringify(log.summary()));
    return;
  }
  const dueMs = now + 2;
  setTimeout(() => {
    log.record(Date.now() - dueMs);
    arm();
  }, dueMs - now);
}

arm();
