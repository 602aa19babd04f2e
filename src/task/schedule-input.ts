/**
 * Turns what a producer asked for (client call, HTTP body, CLI flags) into
 * the exact record the store writes: id, shard, due time, score, spec. Every
 * rule about valid input lives here once, and each violation names its field.
 */
import { keySlot } from "../core/slot.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { parseDuration, parseInstant } from "../core/duration.ts";
import { newTaskId } from "../core/ids.ts";
import { invalid, TickwheelError } from "./errors.ts";
import { encodeRecord, encodeSpecWithArgs } from "./codec.ts";
import { dueScore, PRIORITY_MAX, PRIORITY_MIN, type BackoffOptions, type Target } from "./model.ts";
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_MAX_ARGS_BYTES,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_TIMEOUT_MS,
  ID_PATTERN,
  MAX_ID_LENGTH,
  MAX_ATTEMPTS_LIMIT,
  MAX_NAME_LENGTH,
  MAX_TIMEOUT_MS,
} from "../config/defaults.ts";
import { resolveTarget } from "./target.ts";
import { celeryArgsProblem } from "./celery-target.ts";
import type { OutboundPolicy } from "../core/outbound-policy.ts";

export interface ScheduleOptions {
  /** Idempotency key; a time-sortable id is generated when absent. */
  id?: string;
  runAt?: Date | number | string;
  delay?: number | string;
  priority?: number;
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  timeoutMs?: number;
  expiresAt?: Date | number | string;
  target?: Target;
}

export interface TaskDefaults {
  maxAttempts: number;
  backoff: BackoffOptions;
  timeoutMs: number;
  maxArgsBytes: number;
}

/** What a client without a node's config applies (the values live in config/defaults.ts). */
export const DEFAULT_TASK_DEFAULTS: TaskDefaults = {
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  backoff: { baseMs: DEFAULT_BACKOFF_BASE_MS, maxMs: DEFAULT_BACKOFF_MAX_MS },
  timeoutMs: DEFAULT_TIMEOUT_MS,
  maxArgsBytes: DEFAULT_MAX_ARGS_BYTES,
};

export interface ResolvedTask {
  id: string;
  /** The id was generated here (no id given): no task can exist under it yet. */
  fresh: boolean;
  /** Its Redis Cluster hash slot (the shard is this modulo the shard count). */
  slot: number;
  shard: number;
  dueMs: number;
  score: string;
  specJson: string;
  record: string;
}

/**
 * Ids no URL path can address: "." and ".." are dot segments, which every
 * URL parser removes (even written as %2E), so GET /v1/tasks/.. could never
 * read such a task. Every other printable id is addressable once
 * percent-encoded ("a/b" as a%2Fb), as the CLI and any encodeURIComponent do.
 */
export const UNADDRESSABLE_IDS: ReadonlySet<string> = new Set([".", ".."]);
export const ID_RULE = `expected 1-${MAX_ID_LENGTH} printable ASCII characters without spaces, other than "." and ".."`;
/**
 * Latest due time (and expiresAt) accepted: 9999-12-31T23:59:59.999Z, the
 * last instant an ISO-8601 date with a 4-digit year can write. Far below
 * 2^48 ms, so a due score plus the parking offset (store PARK_OFFSET) stays
 * exact; a later time would be stored but read back as a date nothing can
 * show.
 */
export const MAX_DUE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const TIME_RANGE = `expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z`;

/** Throws an invalid-input error naming `field` unless `ms` is a due time the store can keep and read back. */
export function checkTimeRange(field: string, ms: number): number {
  if (!(ms >= 0 && ms <= MAX_DUE_MS)) throw invalid(field, TIME_RANGE);
  return ms;
}

export function resolveTask(
  name: string,
  args: unknown,
  options: ScheduleOptions,
  context: { nowMs: number; shards: ShardMap; defaults: TaskDefaults; requireTime: boolean; outboundPolicy?: OutboundPolicy },
): ResolvedTask {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw invalid("name", `expected a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
  const id = options.id ?? newTaskId();
  if (typeof id !== "string" || !ID_PATTERN.test(id) || UNADDRESSABLE_IDS.has(id)) {
    throw invalid("id", ID_RULE);
  }

  const dueMs = resolveDue(options, context.nowMs, context.requireTime);
  const priority = options.priority ?? PRIORITY_MIN;
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw invalid("priority", `expected an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}`);
  }
  const maxAttempts = options.maxAttempts ?? context.defaults.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw invalid("maxAttempts", `expected an integer from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  }
  const backoff = options.backoff ? { ...context.defaults.backoff, ...options.backoff } : context.defaults.backoff;
  if (!Number.isInteger(backoff.baseMs) || backoff.baseMs < 1) throw invalid("backoff.baseMs", "expected an integer >= 1 (ms)");
  if (!Number.isInteger(backoff.maxMs) || backoff.maxMs < backoff.baseMs) {
    throw invalid("backoff.maxMs", "expected an integer >= backoff.baseMs (ms)");
  }
  const timeoutMs = options.timeoutMs ?? context.defaults.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw invalid("timeoutMs", `expected an integer from 1 to ${MAX_TIMEOUT_MS} (ms)`);
  }
  const expiresAt = options.expiresAt === undefined ? null : checkTimeRange("expiresAt", instant("expiresAt", options.expiresAt));
  const target = resolveTarget(options.target, context.outboundPolicy);
  if (target.type === "celery") {
    const argsProblem = celeryArgsProblem(args);
    if (argsProblem) throw invalid("args", argsProblem);
  }

  const argsJson = args === undefined ? undefined : JSON.stringify(args);
  if (args !== undefined && argsJson === undefined) throw invalid("args", "expected a JSON value");
  // A UTF-16 unit is at most 3 UTF-8 bytes: short args need no byte count.
  if (argsJson !== undefined && argsJson.length * 3 > context.defaults.maxArgsBytes && Buffer.byteLength(argsJson) > context.defaults.maxArgsBytes) {
    throw new TickwheelError(
      "payload_too_large",
      `expected at most ${context.defaults.maxArgsBytes} bytes of JSON, got ${Buffer.byteLength(argsJson)}`,
      "args",
    );
  }

  // A plain object of the fields the stored spec has (the args go in as JSON): bulk scheduling
  // makes one per task, and nothing else reads it.
  const specJson = encodeSpecWithArgs({ name, priority, maxAttempts, backoff, timeoutMs, expiresAt, target, createdAt: context.nowMs }, argsJson);
  const slot = keySlot(id);
  const score = dueScore(dueMs, priority);
  return {
    id,
    fresh: options.id === undefined,
    slot,
    shard: context.shards.shardOfSlot(slot),
    dueMs,
    score,
    specJson,
    // Built when asked for: a far-future task is stored as a cold entry from specJson instead.
    get record() {
      return encodeRecord(0, score, specJson);
    },
  };
}

function resolveDue(options: ScheduleOptions, nowMs: number, requireTime: boolean): number {
  const hasRunAt = options.runAt !== undefined;
  const hasDelay = options.delay !== undefined;
  if (hasRunAt && hasDelay) throw invalid("runAt", "give either runAt or delay, not both");
  if (hasRunAt) return checkTimeRange("runAt", instant("runAt", options.runAt!));
  if (hasDelay) {
    let delayMs: number;
    try {
      delayMs = parseDuration(options.delay!);
    } catch (error) {
      throw invalid("delay", (error as Error).message);
    }
    return checkTimeRange("delay", nowMs + Math.floor(delayMs));
  }
  if (requireTime) throw invalid("runAt", "give exactly one of runAt or delay");
  return nowMs;
}

function instant(field: string, value: Date | number | string): number {
  try {
    return Math.floor(parseInstant(value));
  } catch (error) {
    throw invalid(field, (error as Error).message);
  }
}
