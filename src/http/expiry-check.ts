/**
 * The one request that is well-formed yet cannot be carried out: a task
 * whose expiresAt is not after its due time could never run (it would be
 * stored only to end as `expired`). That is answered 422, for one task and
 * per item of a batch. Unparseable times are left to resolveTask, which
 * answers 400 naming the field.
 */
import { parseDuration, parseInstant } from "../core/duration.ts";
import { errorBody, type ErrorBody } from "./errors.ts";

interface TimeFields {
  runAt?: string | number | undefined;
  delay?: string | number | undefined;
  expiresAt?: string | number | undefined;
}

export function expiryProblem(body: TimeFields, nowMs: number): ErrorBody | null {
  if (body.expiresAt === undefined || (body.runAt !== undefined && body.delay !== undefined)) return null;
  let expiresAt: number;
  let dueAt: number;
  try {
    expiresAt = parseInstant(body.expiresAt);
    dueAt = body.runAt !== undefined ? parseInstant(body.runAt) : nowMs + (body.delay !== undefined ? parseDuration(body.delay) : 0);
  } catch {
    return null;
  }
  if (expiresAt > dueAt) return null;
  return errorBody(
    "unprocessable",
    `expiresAt (${iso(expiresAt)}) is not after the due time (${iso(dueAt)}): the task could never run`,
    "expiresAt",
  );
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
