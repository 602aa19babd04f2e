/**
 * `tickwheel schedules put|put-many|get|list|pause|resume|delete`: recurring schedules over a
 * node's HTTP API (/v1/schedules). Tables for people, the node's JSON with --json; exit codes as
 * every other command (api.ts EXIT).
 */
import { readFileSync } from "node:fs";
import { call, CliError, EXIT, type ApiOptions } from "./api.ts";
import { UsageError } from "./args.ts";
import { keyValues, relative, table, when } from "./table.ts";
import type { ScheduleView } from "../client/schedules.ts";

export interface ScheduleCommandContext {
  api: ApiOptions;
  json: boolean;
  flags: Map<string, string>;
  out: (text: string) => void;
}

export const SCHEDULE_FLAGS: Record<string, string[]> = {
  "schedules put": ["cron", "every", "tz", "task", "args", "misfire", "overlap", "start-at", "end-at", "paused", "max-attempts", "timeout", "priority", "body"],
  "schedules put-many": [],
  "schedules get": [],
  "schedules list": ["prefix", "limit"],
  "schedules pause": [],
  "schedules resume": [],
  "schedules delete": [],
};

const print = (ctx: ScheduleCommandContext, body: unknown, human: () => string) => ctx.out(ctx.json ? JSON.stringify(body, null, 2) : human());
const path = (name: string) => `/v1/schedules/${encodeURIComponent(name)}`;

export async function runScheduleCommand(ctx: ScheduleCommandContext, sub: string, name: string | undefined): Promise<void> {
  if (sub === "list") return list(ctx);
  if (sub === "put-many") return putMany(ctx, name);
  if (!name) throw new UsageError(`schedules ${sub} needs a schedule name`);
  switch (sub) {
    case "put":
      return put(ctx, name);
    case "get": {
      const view = await call<ScheduleView>(ctx.api, "GET", path(name));
      return print(ctx, view, () => describe(view));
    }
    case "pause":
    case "resume": {
      const view = await call<ScheduleView>(ctx.api, "POST", `${path(name)}/${sub}`);
      return print(ctx, view, () => `${sub === "pause" ? "paused" : "resumed"} ${view.name}${view.nextDueAt === null ? "" : `; next due ${when(view.nextDueAt)}`}`);
    }
    case "delete": {
      const body = await call<{ deleted: boolean }>(ctx.api, "DELETE", path(name));
      return print(ctx, body, () => `deleted schedule ${name}`);
    }
  }
  throw new UsageError(`schedules needs put, put-many, get, list, pause, resume or delete`);
}

async function put(ctx: ScheduleCommandContext, name: string): Promise<void> {
  const flags = ctx.flags;
  let body: Record<string, unknown>;
  const raw = flags.get("body");
  if (raw !== undefined) {
    body = parseJson("--body", raw) as Record<string, unknown>;
  } else {
    const task = flags.get("task");
    if (!task) throw new UsageError("schedules put needs --task NAME (or the whole definition as --body JSON)");
    const template: Record<string, unknown> = { name: task };
    const args = flags.get("args");
    if (args !== undefined) template.args = parseJson("--args", args);
    for (const [flag, field] of [["priority", "priority"], ["max-attempts", "maxAttempts"], ["timeout", "timeoutMs"]] as const) {
      const value = flags.get(flag);
      if (value === undefined) continue;
      if (!/^-?\d+$/.test(value)) throw new UsageError(`--${flag}: expected an integer, got ${JSON.stringify(value)}`);
      template[field] = Number(value);
    }
    body = { task: template };
    const every = flags.get("every");
    if (flags.get("cron") !== undefined) body.cron = flags.get("cron");
    if (every !== undefined) body.every = /^\d+$/.test(every) ? Number(every) : every;
    for (const [flag, field] of [["tz", "tz"], ["misfire", "misfire"], ["overlap", "overlap"], ["start-at", "startAt"], ["end-at", "endAt"]] as const) {
      const value = flags.get(flag);
      if (value !== undefined) body[field] = /^\d+$/.test(value) && field.endsWith("At") ? Number(value) : value;
    }
    if (flags.has("paused")) body.paused = true;
  }
  const result = await call<{ created: boolean; schedule: ScheduleView }>(ctx.api, "PUT", path(name), body);
  print(ctx, result, () => `${result.created ? "created" : "replaced"} schedule ${name}\n${describe(result.schedule)}`);
}

/** Items per PUT /v1/schedules (the route's bound). */
const PUT_MANY_REQUEST = 10_000;

interface PutManyAnswer {
  results: ({ ok: true; name: string; created: boolean } | { ok: false; index: number; error: { code: string; message: string; field?: string } })[];
  created: number;
  replaced: number;
  failed: number;
}

/**
 * `schedules put-many FILE` (or `-` for stdin): a JSON array of `{ name, ...definition }` (or
 * `{ "schedules": [...] }`), sent 10,000 per request. Items the node refused are listed with
 * their index and field (the others are stored), and make the exit code 2.
 */
async function putMany(ctx: ScheduleCommandContext, file: string | undefined): Promise<void> {
  if (!file) throw new UsageError("schedules put-many needs a FILE of JSON (or - for stdin)");
  let text: string;
  try {
    text = file === "-" ? await Bun.stdin.text() : readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  const parsed = parseJson(file, text) as unknown;
  const items = Array.isArray(parsed) ? parsed : (parsed as { schedules?: unknown } | null)?.schedules;
  if (!Array.isArray(items) || items.length === 0) throw new UsageError(`${file}: expected a JSON array of schedules ({ "name": …, "every" or "cron": …, "task": … })`);
  const total: PutManyAnswer = { results: [], created: 0, replaced: 0, failed: 0 };
  for (let from = 0; from < items.length; from += PUT_MANY_REQUEST) {
    const answer = await call<PutManyAnswer>(ctx.api, "PUT", "/v1/schedules", { schedules: items.slice(from, from + PUT_MANY_REQUEST) });
    for (const result of answer.results) total.results.push(result.ok ? result : { ...result, index: result.index + from });
    total.created += answer.created;
    total.replaced += answer.replaced;
    total.failed += answer.failed;
  }
  print(ctx, total, () => {
    const lines = [`created ${total.created}, replaced ${total.replaced}, failed ${total.failed}`];
    for (const result of total.results) {
      if (result.ok) continue;
      const item = items[result.index] as { name?: unknown } | null;
      const name = typeof item?.name === "string" ? ` (${item.name})` : "";
      lines.push(`  item ${result.index}${name}: ${result.error.field ? `${result.error.field}: ` : ""}${result.error.message}`);
    }
    return lines.join("\n");
  });
  if (total.failed > 0) throw new CliError(`${total.failed} of ${items.length} schedules were refused (the others are stored)`, EXIT.usage);
}

async function list(ctx: ScheduleCommandContext): Promise<void> {
  const limit = Number(ctx.flags.get("limit") ?? "100");
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a positive integer, got ${JSON.stringify(ctx.flags.get("limit"))}`);
  const prefix = ctx.flags.get("prefix");
  const schedules: ScheduleView[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(500, limit - schedules.length)) });
    if (prefix) query.set("prefix", prefix);
    if (cursor) query.set("cursor", cursor);
    const page: { schedules: ScheduleView[]; nextCursor: string | null } = await call(ctx.api, "GET", `/v1/schedules?${query}`);
    schedules.push(...page.schedules);
    cursor = page.nextCursor;
  } while (cursor && schedules.length < limit);
  print(ctx, { schedules, more: cursor !== null }, () => {
    if (schedules.length === 0) return `no schedules${prefix ? ` starting with ${prefix}` : ""}`;
    return table(
      ["NAME", "RULE", "TASK", "NEXT DUE", "LAST", "STATE"],
      schedules.map((s) => [
        s.name,
        rule(s),
        s.task.name,
        s.nextDueAt === null ? "-" : relative(s.nextDueAt),
        s.lastOccurrence ? `${s.lastOccurrence.state} (${s.lastOccurrence.at})` : "-",
        s.paused ? "paused" : "active",
      ]),
    );
  });
}

function rule(s: ScheduleView): string {
  return s.cron !== undefined ? `cron ${s.cron} ${s.tz}` : `every ${s.every} ms`;
}

function describe(s: ScheduleView): string {
  return keyValues([
    ["name", s.name],
    ["rule", rule(s)],
    ["task", `${s.task.name}${s.task.args === undefined ? "" : ` ${JSON.stringify(s.task.args).slice(0, 120)}`}`],
    ["misfire / overlap", `${s.misfire} / ${s.overlap}`],
    ["state", s.paused ? "paused" : "active"],
    ["next due", s.nextDueAt === null ? "-" : when(s.nextDueAt)],
    ["next", s.next.join(", ") || "-"],
    ["last occurrence", s.lastOccurrence ? `${s.lastOccurrence.id}: ${s.lastOccurrence.state}` : "-"],
    ["shard", s.shard],
  ]);
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: expected JSON (${(error as Error).message})`);
  }
}
