/**
 * What a schedule is, as a producer writes it (`PUT /v1/schedules/:name`, the client, the CLI),
 * and its normalized form, the ScheduleDefinition every other part reads. Every rule about valid
 * input lives here once, and each violation names its field: an invalid cron field (`cron`, with
 * croner's reason), an unknown zone (`tz`), an interval below the floor (`every`).
 */
import { z } from "zod";
import { Cron } from "croner";
import { parseDuration, parseInstant } from "../core/duration.ts";
import { invalid, TickwheelError } from "../task/errors.ts";
import { resolveTarget } from "../task/target.ts";
import type { OutboundPolicy } from "../core/outbound-policy.ts";
import { PRIORITY_MAX, PRIORITY_MIN, type BackoffOptions } from "../task/model.ts";
import { FireTimes, isKnownZone, type FireRule } from "./fire-times.ts";
import { SCHEDULE_NAME_PATTERN, SCHEDULE_NAME_RULE } from "../task/occurrence-id.ts";

/**
 * The shortest `every`. Each occurrence is a stored task (its final record is kept for the
 * retention, a day by default: ~860,000 records a day at this floor), and the next occurrence is
 * planted when the current one fires, so the period must leave room for a planting pass and a
 * Redis round trip before the next one is due even on a loaded node. 100 ms does both with a wide
 * margin; shorter periods are a loop inside one task, not a schedule.
 */
export const EVERY_FLOOR_MS = 100;

/**
 * Misfire `all` replays at most this many missed occurrences per gap, oldest first; the rest of a
 * longer gap is skipped. It bounds one planting pass (and the burst a long outage would unleash).
 */
export const MISFIRE_ALL_BOUND = 1000;

export const MISFIRE_POLICIES = ["skip", "once", "all"] as const;
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];
export const OVERLAP_POLICIES = ["allow", "skip"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** What each occurrence is scheduled as (the fields of a task that make sense for every run). */
export interface TaskTemplate {
  name: string;
  args?: unknown;
  target?: { type: string; [key: string]: unknown };
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  timeoutMs?: number;
  priority?: number;
}

export interface ScheduleDefinition {
  rule: FireRule;
  /** The zone occurrences are computed (cron) and shown in. */
  tz: string;
  task: TaskTemplate;
  startAtMs: number | null;
  endAtMs: number | null;
  misfire: MisfirePolicy;
  overlap: OverlapPolicy;
  paused: boolean;
}

const intRange = (min: number, max: number, unit = "") => {
  const error = `expected an integer from ${min} to ${max}${unit}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const instant = z.union([z.string(), z.number()]);

export const TaskTemplateSchema = z.strictObject({
  name: z
    .string({ error: "expected a task name (string)" })
    .min(1, { error: "expected a non-empty string of at most 200 characters" })
    .max(200, { error: "expected a non-empty string of at most 200 characters" }),
  args: z.unknown().optional(),
  // Checked against the known targets when an occurrence is planted: the targets grow with their own issues.
  target: z.looseObject({ type: z.string() }).optional(),
  maxAttempts: intRange(1, 1000).optional(),
  backoff: z.strictObject({ baseMs: intRange(1, Number.MAX_SAFE_INTEGER, " (ms)"), maxMs: intRange(1, Number.MAX_SAFE_INTEGER, " (ms)") }).partial().optional(),
  timeoutMs: intRange(1, 7 * 24 * 3_600_000, " (ms)").optional(),
  priority: intRange(PRIORITY_MIN, PRIORITY_MAX).optional(),
});

/** The body of PUT /v1/schedules/:name (the name comes from the path). */
export const ScheduleInputSchema = z.strictObject({
  cron: z.string().optional(),
  every: z.union([z.string(), z.number()]).optional(),
  tz: z.string().optional(),
  task: TaskTemplateSchema,
  startAt: instant.optional(),
  endAt: instant.optional(),
  misfire: z.enum(MISFIRE_POLICIES, { error: `expected one of ${MISFIRE_POLICIES.join(", ")}` }).optional(),
  overlap: z.enum(OVERLAP_POLICIES, { error: `expected one of ${OVERLAP_POLICIES.join(", ")}` }).optional(),
  paused: z.boolean({ error: "expected true or false" }).optional(),
});
export type ScheduleInput = z.input<typeof ScheduleInputSchema>;

export function checkScheduleName(name: unknown): string {
  if (typeof name !== "string" || !SCHEDULE_NAME_PATTERN.test(name)) throw invalid("name", `expected ${SCHEDULE_NAME_RULE}`);
  return name;
}

/**
 * Validates an input (already shaped by ScheduleInputSchema, or straight from the client) and
 * returns its normalized definition. Throws a TickwheelError naming the field.
 */
export function resolveSchedule(raw: unknown, outboundPolicy?: OutboundPolicy): ScheduleDefinition {
  const parsed = ScheduleInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys" && issue.keys.length > 0) {
      const field = [...issue.path.map(String), issue.keys[0]!].join(".");
      throw invalid(field, `unknown field "${field}"`);
    }
    throw invalid(issue.path.map(String).join(".") || "body", issue.message);
  }
  const input = parsed.data;
  const hasCron = input.cron !== undefined;
  const hasEvery = input.every !== undefined;
  if (hasCron === hasEvery) throw invalid(hasCron ? "every" : "cron", "give exactly one of cron or every");

  const tz = input.tz ?? "UTC";
  if (!isKnownZone(tz)) throw invalid("tz", `unknown time zone ${JSON.stringify(tz)}: expected an IANA zone name such as "Europe/Berlin" or "UTC"`);

  let rule: FireRule;
  if (hasCron) {
    const cron = input.cron!.trim();
    const fields = cron.split(/\s+/).length;
    if (fields !== 5 && fields !== 6) throw invalid("cron", `expected 5 fields (minute hour day month weekday) or 6 (with seconds first), got ${fields}`);
    try {
      new Cron(cron, { timezone: tz, mode: "5-or-6-parts", paused: true });
    } catch (error) {
      throw invalid("cron", `invalid cron pattern ${JSON.stringify(cron)}: ${String((error as Error).message).replace(/^CronPattern: /, "")}`);
    }
    rule = { kind: "cron", cron, tz };
  } else {
    let everyMs: number;
    try {
      everyMs = parseDuration(input.every!);
    } catch (error) {
      throw invalid("every", (error as Error).message);
    }
    if (everyMs < EVERY_FLOOR_MS) throw invalid("every", `expected at least ${EVERY_FLOOR_MS} ms, got ${everyMs} ms`);
    rule = { kind: "every", everyMs };
  }

  const startAtMs = input.startAt === undefined ? null : instantField("startAt", input.startAt);
  const endAtMs = input.endAt === undefined ? null : instantField("endAt", input.endAt);
  if (startAtMs !== null && endAtMs !== null && endAtMs <= startAtMs) throw invalid("endAt", "expected a time after startAt");

  const task = input.task as TaskTemplate;
  if (task.backoff?.baseMs !== undefined && task.backoff.maxMs !== undefined && task.backoff.maxMs < task.backoff.baseMs) {
    throw invalid("task.backoff.maxMs", "expected an integer >= backoff.baseMs (ms)");
  }
  if (task.args !== undefined && JSON.stringify(task.args) === undefined) throw invalid("task.args", "expected a JSON value");
  if (task.target !== undefined) {
    // The same rules as a task's target (task/target.ts), named under task.
    try {
      resolveTarget(task.target, outboundPolicy);
    } catch (error) {
      if (error instanceof TickwheelError && error.field !== undefined) throw invalid(`task.${error.field}`, error.message.replace(`${error.field}: `, ""));
      throw error;
    }
  }

  return {
    rule,
    tz,
    task,
    startAtMs,
    endAtMs,
    misfire: input.misfire ?? "once",
    overlap: input.overlap ?? "allow",
    paused: input.paused ?? false,
  };
}

/** The fire times of a definition (croner parses the pattern once here). */
export function fireTimesOf(definition: ScheduleDefinition): FireTimes {
  return new FireTimes(definition.rule, { startAtMs: definition.startAtMs, endAtMs: definition.endAtMs });
}

function instantField(field: string, value: string | number): number {
  try {
    return parseInstant(value);
  } catch (error) {
    throw invalid(field, (error as Error).message);
  }
}
