/**
 * In-process handlers. A tasks module calls defineTask() for each task; the
 * node imports that module at start and finds the handlers here. The
 * registry lives on globalThis so a tasks module that resolves "tickwheel"
 * to another copy of this file still registers with the running node.
 */
import type { z } from "zod";
import type { BackoffOptions } from "./model.ts";

export interface TaskLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface TaskContext {
  id: string;
  name: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The due time (ms since epoch) this attempt was scheduled for. */
  dueAt: number;
  /** Aborted at the task's timeoutMs, and when the node stops past its grace period. */
  signal: AbortSignal;
  log: TaskLogger;
  /** Records the latest progress value; GET /v1/tasks/:id shows it while the task runs. */
  progress(value: unknown): Promise<void>;
}

export type TaskHandler<Args> = (args: Args, ctx: TaskContext) => unknown | Promise<unknown>;

/** Defaults a task carries for schedules made through a node or client that knows it. */
export interface TaskOptions {
  maxAttempts?: number;
  timeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  priority?: number;
}

export interface TaskHandle<Schema extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly schema: Schema;
  readonly handler: TaskHandler<z.infer<Schema>>;
  readonly options: TaskOptions;
}

const REGISTRY_KEY = Symbol.for("tickwheel.task-registry");
type Registry = Map<string, TaskHandle>;

function taskRegistry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let registry = holder[REGISTRY_KEY];
  if (!registry) {
    registry = new Map();
    holder[REGISTRY_KEY] = registry;
  }
  return registry;
}

export function defineTask<Schema extends z.ZodType>(
  name: string,
  schema: Schema,
  handler: TaskHandler<z.infer<Schema>>,
  options: TaskOptions = {},
): TaskHandle<Schema> {
  if (typeof name !== "string" || name.length === 0) throw new Error("defineTask: name must be a non-empty string");
  const handle: TaskHandle<Schema> = { name, schema, handler, options };
  const registry = taskRegistry();
  if (registry.has(name)) throw new Error(`defineTask: a task named "${name}" is already defined`);
  registry.set(name, handle as unknown as TaskHandle);
  return handle;
}

export function findTask(name: string): TaskHandle | undefined {
  return taskRegistry().get(name);
}

/** For tests that load several task modules in one process, or define a name late. */
export function forgetTask(name: string): void {
  taskRegistry().delete(name);
}
