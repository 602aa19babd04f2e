/**
 * How a task is laid out in Redis. Kept compact because every pending task
 * costs Redis memory for as long as it waits (a week-out task waits a week).
 *
 * Pending or running (tasks HASH value):  "<attempt>:<score>\n<spec json>"
 *   The attempt counts the attempts used up (failed, or reaped); a running
 *   task is on the next one. The Lua scripts read and rewrite only the first
 *   line, so they never decode the spec (cjson would reformat numbers inside
 *   args).
 * Finished (in an expiring slot hash, lua/lib/finals.lua): {"state",
 *   "attempt","dueAt","finishedAt","lastError"?, "result"?, "spec": <spec
 *   json>}. The node builds it (encodeFinalText); cancel-5.lua writes the
 *   same shape.
 *
 * Spec json uses short keys and leaves out values equal to the defaults
 * below. These defaults are part of the stored format: changing one changes
 * how existing records read, so they are not configuration.
 */
import { parseOccurrenceId } from "./occurrence-id.ts";
import { dueMsOfScore, type TaskSpec, type TaskState, type TaskView } from "./model.ts";

/**
 * Values a stored spec leaves out. They equal the client's default task
 * options, so a task scheduled with defaults stores only its name, args and
 * creation time: at a million pending tasks the 35 bytes saved per record
 * are ~30 MB of Redis.
 *
 * Part of the stored format, not configuration: a record written without a
 * field means these values forever, so they stay here and never follow
 * config/defaults.ts (today they happen to equal its task defaults, which is
 * what makes the saving; if those change, records just carry the fields).
 */
const STORED_DEFAULTS = { priority: 0, maxAttempts: 3, backoffBaseMs: 1_000, backoffMaxMs: 3_600_000, timeoutMs: 30_000 } as const;

interface CompactSpec {
  n: string;
  a?: unknown;
  p?: number;
  m?: number;
  b?: [number, number];
  t?: number;
  x?: number;
  /** The target, left out for the in-process handler (so handler records are as before it existed). */
  d?: TaskSpec["target"];
  c: number;
}

/**
 * How every stored spec of this task name starts (the name is written first,
 * and the creation time always comes after it): the listing scripts filter
 * records by this prefix without decoding them.
 */
export function specNamePrefix(name: string): string {
  return `{"n":${JSON.stringify(name)},`;
}

/** Name first: the listing scripts filter records by specNamePrefix. */
export function encodeSpec(spec: TaskSpec): string {
  return encodeSpecWithArgs(spec, spec.args === undefined ? undefined : JSON.stringify(spec.args));
}

/**
 * encodeSpec with the args already serialized (scheduling has them as JSON to
 * check their size, and does not serialize them twice). Written out by hand:
 * every field is a number or already JSON.
 */
export function encodeSpecWithArgs(spec: Omit<TaskSpec, "args">, argsJson: string | undefined): string {
  let json = namePrefix(spec.name);
  if (argsJson !== undefined) json += `,"a":${argsJson}`;
  if (spec.priority !== STORED_DEFAULTS.priority) json += `,"p":${spec.priority}`;
  if (spec.maxAttempts !== STORED_DEFAULTS.maxAttempts) json += `,"m":${spec.maxAttempts}`;
  if (spec.backoff.baseMs !== STORED_DEFAULTS.backoffBaseMs || spec.backoff.maxMs !== STORED_DEFAULTS.backoffMaxMs) {
    json += `,"b":[${spec.backoff.baseMs},${spec.backoff.maxMs}]`;
  }
  if (spec.timeoutMs !== STORED_DEFAULTS.timeoutMs) json += `,"t":${spec.timeoutMs}`;
  if (spec.expiresAt !== null) json += `,"x":${spec.expiresAt}`;
  if (spec.target.type !== "handler") json += `,"d":${JSON.stringify(spec.target)}`;
  return `${json},"c":${spec.createdAt}}`;
}

// A bulk call schedules many tasks of one name: its JSON is made once, not per task.
let lastName = "";
let lastNamePrefix = `{"n":""`;
function namePrefix(name: string): string {
  if (name !== lastName) {
    lastNamePrefix = `{"n":${JSON.stringify(name)}`;
    lastName = name;
  }
  return lastNamePrefix;
}

/** Shared, frozen: every claimed task decodes a spec, and most use these. */
const DEFAULT_BACKOFF: TaskSpec["backoff"] = Object.freeze({ baseMs: STORED_DEFAULTS.backoffBaseMs, maxMs: STORED_DEFAULTS.backoffMaxMs });
export const HANDLER_TARGET: TaskSpec["target"] = Object.freeze({ type: "handler" as const });

export function decodeSpec(json: string): TaskSpec {
  const c = JSON.parse(json) as CompactSpec;
  return {
    name: c.n,
    args: c.a,
    priority: c.p ?? STORED_DEFAULTS.priority,
    maxAttempts: c.m ?? STORED_DEFAULTS.maxAttempts,
    backoff: c.b ? { baseMs: c.b[0], maxMs: c.b[1] } : DEFAULT_BACKOFF,
    timeoutMs: c.t ?? STORED_DEFAULTS.timeoutMs,
    expiresAt: c.x ?? null,
    // The shared frozen object when absent: the pool recognises the fast path by it.
    target: c.d ?? HANDLER_TARGET,
    createdAt: c.c,
  };
}

export function encodeRecord(attempt: number, score: string, specJson: string): string {
  return `${attempt}:${score}\n${specJson}`;
}

interface DecodedRecord {
  attempt: number;
  score: string;
  dueMs: number;
  specJson: string;
}

export function decodeRecord(record: string): DecodedRecord {
  const colon = record.indexOf(":");
  const newline = record.indexOf("\n", colon);
  if (colon < 0 || newline < 0) throw new Error("corrupt task record (no attempt:score header)");
  const score = record.slice(colon + 1, newline);
  return {
    attempt: Number(record.slice(0, colon)),
    score,
    dueMs: dueMsOfScore(score),
    specJson: record.slice(newline + 1),
  };
}

interface FinalRecord {
  state: TaskState;
  attempt: number;
  dueAt: number;
  finishedAt: number;
  lastError?: string;
  result?: unknown;
  spec: TaskSpec;
}

/**
 * Builds the final-record json around the already-encoded spec (not
 * re-encoded). Written out by hand rather than JSON.stringify of an object:
 * this runs once per finished task, and the fixed fields are a state name
 * and integers that need no escaping.
 */
export function encodeFinal(
  header: { state: TaskState; attempt: number; dueAt: number; finishedAt: number; lastError?: string; result?: unknown },
  specJson: string,
): string {
  return encodeFinalText(header.state, header.attempt, String(header.dueAt), String(header.finishedAt), finalExtraJson(header.lastError, header.result), specJson);
}

/**
 * encodeFinal with the times already as text: the node finishes tens of
 * thousands of tasks a second, most in the same few milliseconds, and
 * turning the same 13-digit numbers into text again for each was a fifth
 * of building the record.
 */
export function encodeFinalText(state: TaskState, attempt: number, dueAt: string, finishedAt: string, extraJson: string, specJson: string): string {
  return `{"state":"${state}","attempt":${attempt},"dueAt":${dueAt},"finishedAt":${finishedAt}${extraJson},"spec":${specJson}}`;
}

/**
 * What the node sends the finish script for a final record: the text after
 * `"attempt":` and before `,"spec":`. The script joins the record around it
 * with the spec from the task's stored record (finish-7.lua), so that
 * `{"state":"<state>","attempt":` + tail + `,"spec":` + spec + `}` is
 * exactly encodeFinalText's record.
 */
export function encodeFinalTail(attempt: number, dueAt: string, finishedAt: string, extraJson: string): string {
  return `${attempt},"dueAt":${dueAt},"finishedAt":${finishedAt}${extraJson}`;
}

/** encodeFinalTail from a final record's header (as encodeFinal takes it). */
export function finalTailOf(header: { attempt: number; dueAt: number; finishedAt: number; lastError?: string; result?: unknown }): string {
  return encodeFinalTail(header.attempt, String(header.dueAt), String(header.finishedAt), finalExtraJson(header.lastError, header.result));
}

/**
 * The optional fields of a final record as a JSON fragment that goes after
 * finishedAt: `,"lastError":…` then `,"result":…`, or "" (a result that is
 * not JSON, e.g. a function, is left out).
 */
export function finalExtraJson(lastError?: string, result?: unknown): string {
  return finalExtraJsonText(lastError, result === undefined ? undefined : JSON.stringify(result));
}

/** finalExtraJson with the result already serialized (the completer has it from its size check). */
export function finalExtraJsonText(lastError: string | undefined, resultJson: string | undefined): string {
  let json = "";
  if (lastError !== undefined) json += `,"lastError":${JSON.stringify(lastError)}`;
  if (resultJson !== undefined) json += `,"result":${resultJson}`;
  return json;
}

export function decodeFinal(json: string): FinalRecord {
  const raw = JSON.parse(json) as Omit<FinalRecord, "spec"> & { spec: CompactSpec };
  return { ...raw, spec: decodeSpec(JSON.stringify(raw.spec)) };
}

export function viewOfFinal(id: string, shard: number, final: FinalRecord): TaskView {
  const view = baseView(id, shard, final.spec, final.state, final.dueAt, final.attempt);
  view.finishedAt = final.finishedAt;
  if (final.lastError !== undefined) view.lastError = final.lastError;
  if (final.result !== undefined) view.result = final.result;
  return view;
}

export function viewOfRecord(
  id: string,
  shard: number,
  state: "scheduled" | "running",
  record: DecodedRecord,
  lastError: string | null,
  progressJson: string | null,
): TaskView {
  const view = baseView(id, shard, decodeSpec(record.specJson), state, record.dueMs, record.attempt);
  if (lastError !== null) view.lastError = lastError;
  if (progressJson !== null) view.progress = JSON.parse(progressJson);
  return view;
}

function baseView(id: string, shard: number, spec: TaskSpec, state: TaskState, dueAt: number, attempt: number): TaskView {
  const view: TaskView = {
    id,
    name: spec.name,
    state,
    dueAt,
    attempt,
    maxAttempts: spec.maxAttempts,
    priority: spec.priority,
    args: spec.args,
    createdAt: spec.createdAt,
    target: spec.target,
    shard,
  };
  if (spec.expiresAt !== null) view.expiresAt = spec.expiresAt;
  // Told by the id alone (occurrence-id.ts): nothing is stored per task for it.
  const occurrence = parseOccurrenceId(id);
  if (occurrence !== null) view.schedule = { name: occurrence.schedule, occurrenceAt: occurrence.atMs };
  return view;
}
