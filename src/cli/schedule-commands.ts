/**
 * `tickwheel schedules put|get|list|pause|resume|delete`: recurring schedules over a node's HTTP
 * API (/v1/schedules). Tables for people, the node's JSON with --json; exit codes as every
 * other command (api.ts EXIT).
 */
import { call, type ApiOptions } from "./api.ts";
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
  throw new UsageError(`schedules needs put, get, list, pause, resume or delete`);
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
