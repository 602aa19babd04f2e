/**
 * The console's CLI commands (issue 15): run a task now, reschedule it, and
 * bulk actions on a filtered list. A bulk action starts a job on the node
 * and follows its progress until it ends (--no-wait: print the job and
 * return). Like commands.ts, each prints a sentence, or the JSON with --json.
 */
import { call, CliError, EXIT } from "./api.ts";
import { UsageError } from "./args.ts";
import { when } from "./table.ts";
import type { CommandContext } from "./commands.ts";

type TaskView = { id: string; name: string; state: string; dueAt: number };

interface BulkJob {
  jobId: string;
  action: string;
  state: string;
  status: "running" | "done" | "failed";
  matched: number;
  done: number;
  skipped: number;
  error: string | null;
}

/** Every listing state the node knows (GET /v1/tasks?state=). */
export const LIST_STATES = ["scheduled", "running", "succeeded", "failed", "dead", "cancelled", "expired"];
const BULK_ACTIONS = ["cancel", "retry", "run-now", "count"];
/** How often a waiting bulk command asks for progress. */
const POLL_MS = 250;

const print = (ctx: CommandContext, body: unknown, human: () => string) => ctx.out(ctx.json ? JSON.stringify(body, null, 2) : human());
const path = (id: string) => `/v1/tasks/${encodeURIComponent(id)}`;

export async function runNow(ctx: CommandContext, id: string | undefined): Promise<void> {
  if (!id) throw new UsageError("run-now needs a task id");
  const task = await call<TaskView>(ctx.api, "POST", `${path(id)}/run-now`);
  print(ctx, task, () => `${task.id} (${task.name}) is due now (${when(task.dueAt)})`);
}

export async function reschedule(ctx: CommandContext, id: string | undefined): Promise<void> {
  if (!id) throw new UsageError("reschedule needs a task id: tickwheel reschedule ID --in 1d | --at TIME");
  const delay = ctx.flags.get("in");
  const at = ctx.flags.get("at");
  if ((delay === undefined) === (at === undefined)) throw new UsageError("give exactly one of --in DURATION or --at TIME");
  const body = delay !== undefined ? { delay: /^\d+$/.test(delay) ? Number(delay) : delay } : { runAt: /^\d+$/.test(at!) ? Number(at) : at };
  const task = await call<TaskView>(ctx.api, "PATCH", path(id), body);
  print(ctx, task, () => `rescheduled ${task.id} (${task.name}): due ${when(task.dueAt)}`);
}

export async function bulk(ctx: CommandContext, action: string | undefined): Promise<void> {
  if (!action || !BULK_ACTIONS.includes(action)) throw new UsageError(`bulk needs an action: ${BULK_ACTIONS.join(" | ")}`);
  const state = ctx.flags.get("state");
  if (!state) throw new UsageError("bulk needs --state");
  if (!LIST_STATES.includes(state)) throw new UsageError(`--state: expected one of ${LIST_STATES.join(", ")}, got ${JSON.stringify(state)}`);
  const body: Record<string, unknown> = { action, state };
  const name = ctx.flags.get("name");
  const namePrefix = ctx.flags.get("name-prefix");
  if (name !== undefined) body.name = name;
  if (namePrefix !== undefined) body.namePrefix = namePrefix;
  if (ctx.flags.has("all")) body.all = true;
  let job = await call<BulkJob>(ctx.api, "POST", "/v1/tasks/bulk", body);
  if (!ctx.flags.has("no-wait")) {
    while (job.status === "running") {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await call<BulkJob>(ctx.api, "GET", `/v1/bulk/${encodeURIComponent(job.jobId)}`);
    }
  }
  print(ctx, job, () => {
    if (job.status === "running") return `started ${job.jobId}: follow it with GET /v1/bulk/${job.jobId}`;
    if (action === "count") return `${job.matched} ${state} tasks match`;
    return `${action}: ${job.done} of ${job.matched} ${state} tasks${job.skipped ? ` (${job.skipped} had moved on)` : ""} (${job.jobId})`;
  });
  if (job.status === "failed") throw new CliError(`bulk job ${job.jobId} failed: ${job.error}`, EXIT.failure, job);
}
