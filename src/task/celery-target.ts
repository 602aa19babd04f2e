/**
 * The Celery target, `{ type: "celery", task, queue?, priority?, kwargs? }`,
 * checked at the boundary (resolveTarget, so the HTTP API, the client and the
 * CLI refuse the same things, each naming its `target.*` field). At the due
 * time the pool pushes one Celery message for it (src/pool/targets/celery/).
 * The rules on names and priorities are kept here and the message builder
 * checks by them too, so nothing accepted here can fail to build there.
 */
import { invalid } from "./errors.ts";
import type { CeleryTarget } from "./model.ts";

/** Celery priorities run 0..9; on Redis a lower number is served first. */
export const CELERY_PRIORITY_MIN = 0;
export const CELERY_PRIORITY_MAX = 9;
/** Task and queue names longer than this are refused: they are Redis keys and log fields. */
export const MAX_CELERY_NAME_LENGTH = 200;

/** A task or queue name: non-empty, bounded, no control characters (the priority separator is two). */
export function celeryNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_CELERY_NAME_LENGTH) {
    return `expected a non-empty string of at most ${MAX_CELERY_NAME_LENGTH} characters`;
  }
  if (/[\x00-\x20\x7f]/.test(name)) return "expected no spaces or control characters";
  return null;
}

const FIELDS = new Set(["type", "task", "queue", "priority", "kwargs"]);
/** The nesting bound of args (http/schemas.ts MAX_ARGS_DEPTH), for the same reasons. */
const MAX_KWARGS_DEPTH = 256;

/** The target to store (only the fields given), or an error naming the field. */
export function resolveCeleryTarget(value: Record<string, unknown>): CeleryTarget {
  const unknown = Object.keys(value).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) throw invalid(`target.${unknown}`, 'unknown field for a "celery" target (expected task, queue, priority, kwargs)');
  const taskProblem = celeryNameProblem(value.task);
  if (taskProblem) throw invalid("target.task", `${taskProblem} (the registered Celery task name)`);
  const target: CeleryTarget = { type: "celery", task: value.task as string };
  if (value.queue !== undefined) {
    const queueProblem = celeryNameProblem(value.queue);
    if (queueProblem) throw invalid("target.queue", queueProblem);
    target.queue = value.queue as string;
  }
  if (value.priority !== undefined) {
    const priority = value.priority;
    if (typeof priority !== "number" || !Number.isInteger(priority) || priority < CELERY_PRIORITY_MIN || priority > CELERY_PRIORITY_MAX) {
      throw invalid("target.priority", `expected an integer from ${CELERY_PRIORITY_MIN} to ${CELERY_PRIORITY_MAX} (Celery's priority; on Redis lower runs first)`);
    }
    target.priority = priority;
  }
  if (value.kwargs !== undefined) {
    const kwargs = value.kwargs;
    if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
      throw invalid("target.kwargs", "expected a JSON object (the Celery task's keyword args)");
    }
    if (!nestedAtMost(kwargs, MAX_KWARGS_DEPTH)) throw invalid("target.kwargs", `expected JSON nested at most ${MAX_KWARGS_DEPTH} levels deep`);
    target.kwargs = kwargs as Record<string, unknown>;
  }
  return target;
}

/** A Celery task's positional args: the task's args when a JSON array, none when absent. */
export function celeryArgsProblem(args: unknown): string | null {
  return args === undefined || Array.isArray(args) ? null : "expected a JSON array for a celery target (the task's positional args; keyword args go in target.kwargs)";
}

/** Iterative: a recursive walk would overflow on exactly the input it guards against. */
function nestedAtMost(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= limit) return false;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth + 1]);
  }
  return true;
}
