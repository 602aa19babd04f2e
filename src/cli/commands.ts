/**
 * The CLI commands that talk to a node over HTTP. Each prints a table or a
 * short sentence for people, or the node's JSON answer with --json, and
 * fails with a CliError whose exit code says what went wrong (api.ts, EXIT).
 */
import { call, CliError, EXIT, type ApiOptions } from "./api.ts";
import { UsageError } from "./args.ts";
import { keyValues, relative, table, when } from "./table.ts";
// Type only (erased at run time): the CLI binary does not carry the schema library.
import type { ShardInfo } from "../node/shard-info.ts";

export interface CommandContext {
  api: ApiOptions;
  json: boolean;
  flags: Map<string, string>;
  out: (text: string) => void;
}

/** A task as the node's JSON answers it (the same shape as the client's). */
type TaskView = Omit<import("../task/model.ts").TaskView, "state"> & {
  state: string;
  paused?: boolean;
  /** Celery's result, for celery-target tasks on a node with TICKWHEEL_CELERY_RESULT_URL. */
  celery?: { state: string; result?: unknown };
};

const print = (ctx: CommandContext, body: unknown, human: () => string) => ctx.out(ctx.json ? JSON.stringify(body, null, 2) : human());
const path = (id: string) => `/v1/tasks/${encodeURIComponent(id)}`;

export async function schedule(ctx: CommandContext, name: string | undefined): Promise<void> {
  const celeryTask = ctx.flags.get("celery");
  name ??= celeryTask;
  if (!name) throw new UsageError("schedule needs a task name: tickwheel schedule NAME --in 10m | --at TIME");
  const body: Record<string, unknown> = { name };
  if (celeryTask !== undefined) body.target = celeryTarget(ctx, celeryTask);
  else if (ctx.flags.get("queue") !== undefined || ctx.flags.get("kwargs") !== undefined) {
    throw new UsageError("--queue and --kwargs go with --celery TASK");
  }
  const delay = ctx.flags.get("in");
  const at = ctx.flags.get("at");
  if ((delay === undefined) === (at === undefined)) throw new UsageError("give exactly one of --in DURATION or --at TIME");
  if (delay !== undefined) body.delay = /^\d+$/.test(delay) ? Number(delay) : delay;
  if (at !== undefined) body.runAt = /^\d+$/.test(at) ? Number(at) : at;
  const args = ctx.flags.get("args");
  if (args !== undefined) {
    try {
      body.args = JSON.parse(args);
    } catch (error) {
      throw new UsageError(`--args: expected JSON, got ${JSON.stringify(args.length > 60 ? args.slice(0, 60) + "…" : args)} (${(error as Error).message})`);
    }
  }
  const id = ctx.flags.get("id");
  if (id !== undefined) body.id = id;
  // The node checks the URL (and its outbound policy) and answers 400 naming target.url.
  const webhook = ctx.flags.get("webhook");
  if (webhook !== undefined && celeryTask !== undefined) throw new UsageError("give either --webhook URL or --celery TASK, not both");
  if (webhook !== undefined) body.target = { type: "webhook", url: webhook };
  for (const [flag, field] of [["priority", "priority"], ["max-attempts", "maxAttempts"], ["timeout", "timeoutMs"]] as const) {
    const value = ctx.flags.get(flag);
    if (value === undefined) continue;
    if (!/^-?\d+$/.test(value)) throw new UsageError(`--${flag}: expected an integer, got ${JSON.stringify(value)}`);
    body[field] = Number(value);
  }
  const result = await call<{ id: string; created: boolean; dueAt: number; shard: number }>(ctx.api, "POST", "/v1/tasks", body);
  print(ctx, result, () =>
    result.created
      ? `scheduled ${result.id} (shard ${result.shard}), due ${when(result.dueAt)}`
      : `${result.id} already exists (shard ${result.shard}), due ${when(result.dueAt)}: nothing created`,
  );
}

/** `--celery TASK [--queue Q] [--kwargs JSON]` as a celery target (the node checks the values). */
function celeryTarget(ctx: CommandContext, task: string): Record<string, unknown> {
  const target: Record<string, unknown> = { type: "celery", task };
  const queue = ctx.flags.get("queue");
  if (queue !== undefined) target.queue = queue;
  const kwargs = ctx.flags.get("kwargs");
  if (kwargs !== undefined) {
    try {
      target.kwargs = JSON.parse(kwargs);
    } catch (error) {
      throw new UsageError(`--kwargs: expected a JSON object, got ${JSON.stringify(kwargs.length > 60 ? kwargs.slice(0, 60) + "…" : kwargs)} (${(error as Error).message})`);
    }
  }
  return target;
}

export async function get(ctx: CommandContext, id: string | undefined): Promise<void> {
  if (!id) throw new UsageError("get needs a task id");
  const task = await call<TaskView>(ctx.api, "GET", path(id));
  print(ctx, task, () => describeTask(task));
}

export async function cancel(ctx: CommandContext, id: string | undefined): Promise<void> {
  if (!id) throw new UsageError("cancel needs a task id");
  const task = await call<TaskView>(ctx.api, "DELETE", path(id));
  print(ctx, task, () => `cancelled ${task.id} (${task.name}, was due ${when(task.dueAt)})`);
}

export async function shards(ctx: CommandContext): Promise<void> {
  const body = await call<{ nodeId: string; shards: ShardInfo[] }>(ctx.api, "GET", "/admin/shards");
  print(ctx, body, () =>
    table(
      ["SHARD", "OWNER", "EPOCH", "DUE (COLD)", "IN FLIGHT", "DEAD", "NEXT DUE", "FIRED", "LATENESS P50/P99"],
      body.shards.map((s) => [
        s.shard,
        s.owner ?? "unowned",
        s.epoch,
        `${s.dueCount} (${s.coldCount})`,
        s.inFlight,
        s.dead,
        s.nextDueAt === null ? "-" : relative(s.nextDueAt),
        s.fired,
        s.latenessP50Ms === null ? "-" : `${s.latenessP50Ms}/${s.latenessP99Ms} ms`,
      ]),
    ),
  );
}

interface ResizeBody {
  state: "stable" | "preparing" | "resizing";
  count: number;
  resizingTo: number | null;
  epoch: number;
  slotsMoved: number;
  slotsTotal: number;
  tasksMoved: number;
  shards: { shard: number; phase: string; slotsToMove: number; slotsMoved: number; tasksMoved: number }[];
}

/** `shards resize N` starts a resize; `shards resize` shows its progress. */
export async function resize(ctx: CommandContext, count: string | undefined): Promise<void> {
  let body: ResizeBody;
  if (count === undefined) {
    body = await call<ResizeBody>(ctx.api, "GET", "/admin/shards/resize");
  } else {
    if (!/^\d+$/.test(count)) throw new UsageError(`shards resize: expected a shard count, got ${JSON.stringify(count)}`);
    body = await call<ResizeBody>(ctx.api, "POST", "/admin/shards/resize", { count: Number(count) });
  }
  print(ctx, body, () => {
    const head =
      body.state === "stable"
        ? `stable: ${body.count} shards (map epoch ${body.epoch})`
        : `${body.state} ${body.count} -> ${body.resizingTo} shards (map epoch ${body.epoch}): ${body.slotsMoved}/${body.slotsTotal} slots, ${body.tasksMoved} tasks moved`;
    if (body.shards.length === 0) return head;
    return `${head}\n${table(
      ["SOURCE", "PHASE", "SLOTS MOVED", "TASKS MOVED"],
      body.shards.map((s) => [s.shard, s.phase, `${s.slotsMoved}/${s.slotsToMove}`, s.tasksMoved]),
    )}`;
  });
}

interface NodeRow {
  id: string;
  self?: boolean;
  address?: string | null;
  startedAt?: number;
  version?: string;
  shards?: number[];
  pool?: { concurrency: number; inFlight: number };
}

export async function nodes(ctx: CommandContext): Promise<void> {
  let body: { nodeId?: string; nodes: NodeRow[] };
  try {
    body = await call(ctx.api, "GET", "/admin/nodes");
  } catch (error) {
    if (!(error instanceof CliError) || error.exitCode !== EXIT.notFound) throw error;
    // A node without a registry: the shard leases still name their owners.
    const { shards: list } = await call<{ shards: ShardInfo[] }>(ctx.api, "GET", "/admin/shards");
    const owners = new Map<string, number[]>();
    for (const s of list) if (s.owner) owners.set(s.owner, [...(owners.get(s.owner) ?? []), s.shard]);
    body = { nodes: [...owners].map(([id, owned]) => ({ id, shards: owned })) };
  }
  print(ctx, body, () =>
    table(
      ["NODE", "ADDRESS", "SHARDS", "IN FLIGHT", "STARTED", "VERSION"],
      body.nodes.map((n) => [
        n.self ? `${n.id} *` : n.id,
        n.address,
        n.shards ? `${n.shards.length} (${compactRanges(n.shards)})` : null,
        n.pool ? `${n.pool.inFlight}/${n.pool.concurrency}` : null,
        n.startedAt ? relative(n.startedAt) : null,
        n.version,
      ]),
    ),
  );
}

export async function list(ctx: CommandContext, state: string): Promise<void> {
  const limit = Number(ctx.flags.get("limit") ?? "100");
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a positive integer, got ${JSON.stringify(ctx.flags.get("limit"))}`);
  const name = ctx.flags.get("name");
  const namePrefix = ctx.flags.get("name-prefix");
  const tasks: TaskView[] = [];
  let cursor: string | null = null;
  // Pages can be short (bounded work per request); follow cursors until `limit` tasks or the end.
  do {
    const query = new URLSearchParams({ state, limit: String(Math.min(500, limit - tasks.length)) });
    if (name) query.set("name", name);
    if (namePrefix) query.set("namePrefix", namePrefix);
    if (cursor) query.set("cursor", cursor);
    const page: { tasks: TaskView[]; nextCursor: string | null } = await call(ctx.api, "GET", `/v1/tasks?${query}`);
    tasks.push(...page.tasks);
    cursor = page.nextCursor;
  } while (cursor && tasks.length < limit);
  const body = { tasks, more: cursor !== null };
  print(ctx, body, () => {
    if (tasks.length === 0) return `no ${state} tasks${name ? ` named ${name}` : ""}`;
    const rows =
      state === "dead" || state === "succeeded" || state === "cancelled" || state === "expired"
        ? table(["ID", "NAME", "ATTEMPTS", state === "dead" ? "DIED" : "FINISHED", "LAST ERROR"], tasks.map((t) => [t.id, t.name, `${t.attempt}/${t.maxAttempts}`, t.finishedAt ? relative(t.finishedAt) : null, clip(t.lastError, 80)]))
        : table(["ID", "NAME", "DUE", "ATTEMPT", "PRIORITY", "LAST ERROR"], tasks.map((t) => [t.id, t.name, `${relative(t.dueAt)}${t.paused ? " (paused)" : ""}`, `${t.attempt}/${t.maxAttempts}`, t.priority, clip(t.lastError, 60)]));
    return cursor ? `${rows}\n(first ${tasks.length}; more with --limit)` : rows;
  });
}

export async function retryDead(ctx: CommandContext, id: string | undefined): Promise<void> {
  if (!id) throw new UsageError("dead retry needs a task id");
  const task = await call<TaskView>(ctx.api, "POST", `${path(id)}/retry`);
  print(ctx, task, () => `requeued ${task.id} (${task.name}): due now, ${task.maxAttempts} fresh attempts`);
}

export async function pause(ctx: CommandContext, name: string | undefined, paused: boolean): Promise<void> {
  if (!name) throw new UsageError(`${paused ? "pause" : "resume"} needs a task name`);
  const body = await call<{ name: string; pausedAt?: number; requeued?: number }>(ctx.api, "POST", `/v1/names/${encodeURIComponent(name)}/${paused ? "pause" : "resume"}`);
  print(ctx, body, () => (paused ? `paused ${body.name} (since ${when(body.pausedAt)})` : `resumed ${body.name}: ${body.requeued} parked tasks requeued`));
}

export async function pausedNames(ctx: CommandContext): Promise<void> {
  const body = await call<{ paused: { name: string; pausedAt: number }[] }>(ctx.api, "GET", "/v1/paused");
  print(ctx, body, () => (body.paused.length === 0 ? "no paused task names" : table(["NAME", "PAUSED"], body.paused.map((p) => [p.name, when(p.pausedAt)]))));
}

function describeTask(task: TaskView): string {
  return keyValues([
    ["id", task.id],
    ["name", task.name],
    ["state", task.paused ? `${task.state} (paused)` : task.state],
    ["celery", task.celery === undefined ? undefined : `${task.celery.state}${task.celery.result === undefined ? "" : ` ${clip(JSON.stringify(task.celery.result), 200)}`}`],
    ["due", when(task.dueAt)],
    ["attempt", `${task.attempt} of ${task.maxAttempts}`],
    ["priority", task.priority],
    ["shard", task.shard],
    ["created", when(task.createdAt)],
    ["expires", task.expiresAt === undefined ? undefined : when(task.expiresAt)],
    ["finished", task.finishedAt === undefined ? undefined : when(task.finishedAt)],
    ["target", describeTarget(task.target)],
    ["last error", task.lastError],
    ["progress", task.progress === undefined ? undefined : clip(JSON.stringify(task.progress), 200)],
    ["result", task.result === undefined ? undefined : clip(JSON.stringify(task.result), 200)],
    ["args", task.args === undefined ? undefined : clip(JSON.stringify(task.args), 200)],
  ]);
}

function clip(text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  const line = text.replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** [0,1,2,3,7,9,10] → "0-3,7,9-10" */
function compactRanges(numbers: number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(",");
}

/**
 * "webhook https://…" for a webhook, "celery app.tasks.x (queue mail, priority 3)" for a Celery
 * task; nothing for the default handler (every task has one).
 */
function describeTarget(target: { type: string; url?: string; task?: string; queue?: string; priority?: number } | undefined): string | undefined {
  if (!target || target.type === "handler") return undefined;
  if (target.type === "celery") {
    const details = [target.queue && `queue ${target.queue}`, target.priority !== undefined && `priority ${target.priority}`].filter(Boolean);
    return `celery ${target.task}${details.length ? ` (${details.join(", ")})` : ""}`;
  }
  return target.url === undefined ? target.type : `${target.type} ${target.url}`;
}
