/**
 * Listing tasks by state for the console, the CLI and the API: one page at a
 * time, shard by shard or in one time order across the shards, behind an
 * opaque cursor that names the listing it belongs to. Each page is a few
 * bounded listing calls (store/listings.ts), so filtering a rare name never
 * turns into one long Redis call. Client.list is the way in.
 */
import { COLD_CURSOR, LIST_MAX_BYTES, type RedisListings } from "../store/listings.ts";
import { PARK_OFFSET } from "../store/data-format.ts";
import type { ListableState, ListEntry } from "../store/outcomes.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { comparePositions, countUpTo, frontierOf, mergeTimeOrdered } from "./time-order.ts";
import { decodeFinal, decodeRecord, viewOfFinal, viewOfRecord } from "../task/codec.ts";
import { invalid } from "../task/errors.ts";
import type { TaskView } from "../task/model.ts";
import { DEFAULT_LIST_LIMIT } from "../config/defaults.ts";

export interface ListOptions {
  state: ListableState;
  /** Only tasks of this name. */
  name?: string;
  /** Only tasks whose name starts with this (not with `name`). */
  namePrefix?: string;
  /** 1 … 500, default 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /**
   * "shard" (default): shard by shard, each in index order. "time": one time
   * order across shards (due time for scheduled and failed, time finished
   * for the finished states; not for running); scheduled tasks in the cold
   * tier follow, in storage order (see listInTimeOrder).
   */
  order?: "shard" | "time";
}

/** A task in a listing: its view without args and result (fetch one task for those). */
export type TaskSummary = Omit<TaskView, "args" | "result" | "progress"> & {
  /** A scheduled task of a paused name that came due and waits for resume. */
  paused?: boolean;
  /** Running tasks: when the attempt is given up as lost unless kept alive (ms). */
  visibilityDeadline?: number;
  /** Scheduled and failed tasks: ms until due when listed (negative: overdue). */
  dueInMs?: number;
};

export interface ListResult {
  tasks: TaskSummary[];
  nextCursor: string | null;
}

export const LISTABLE_STATES = ["scheduled", "running", "succeeded", "failed", "dead", "cancelled", "expired"] as const satisfies readonly ListableState[];
/** States whose listing reads final records (finished tasks). */
const FINISHED_LIST_STATES: ReadonlySet<ListableState> = new Set(["dead", "succeeded", "cancelled", "expired"]);
export const MAX_LIST_LIMIT = 500;
/** Index entries one list call may examine per shard (bounds the Lua call when filtering by name). */
const LIST_BUDGET = 5000;
/** Extra tasks each shard is asked for in a time-ordered page, so a slightly uneven spread still fills it. */
const TIME_ORDER_SLACK = 8;
/** Extra reads of the shards that hold a time-ordered page back before it is answered short. */
const TIME_ORDER_ROUNDS = 4;

function summaryOf(entry: ListEntry, shard: number, state: ListableState, nowMs: number): TaskSummary {
  let view: TaskView;
  if (FINISHED_LIST_STATES.has(state)) {
    view = viewOfFinal(entry.id, shard, decodeFinal(entry.record));
  } else {
    view = viewOfRecord(entry.id, shard, state === "running" ? "running" : "scheduled", decodeRecord(entry.record), entry.lastError, null);
  }
  const { args: _args, result: _result, progress: _progress, ...summary } = view;
  const out: TaskSummary = summary;
  // Parked: its due score was pushed past PARK_OFFSET while its record keeps the real due time.
  if (state === "scheduled" && Number(entry.score) >= PARK_OFFSET && summary.dueAt < PARK_OFFSET) out.paused = true;
  if (state === "running") out.visibilityDeadline = Math.floor(Number(entry.score));
  if (state === "scheduled" || state === "failed") out.dueInMs = summary.dueAt - nowMs;
  return out;
}

interface CursorBody {
  v: 1;
  /** "t": a time-ordered listing (sc/id: the global position; s: the shard of its cold phase). */
  o?: "t";
  st: ListableState;
  n: string | null;
  /** 1 when `n` is a name prefix. */
  p?: 1;
  s: number;
  sc?: string;
  id?: string;
}

function encodeCursor(
  state: ListableState,
  name: string | null,
  shard: number,
  after: { score: string; id: string } | null,
  namePrefix = false,
  timeOrder = false,
): string {
  const body: CursorBody = { v: 1, st: state, n: name, s: shard };
  if (namePrefix) body.p = 1;
  if (timeOrder) body.o = "t";
  if (after) {
    body.sc = after.score;
    body.id = after.id;
  }
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function decodeCursor(
  cursor: string,
  state: ListableState,
  name: string | null,
  shards: ShardMap,
  namePrefix = false,
  timeOrder = false,
): { shard: number; after: { score: string; id: string } | null } {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as CursorBody;
  } catch {
    throw invalid("cursor", "expected the nextCursor of a previous page");
  }
  if (typeof body !== "object" || body === null || body.v !== 1 || !Number.isInteger(body.s) || body.s < 0 || body.s >= shards.listSpan) {
    throw invalid("cursor", "expected the nextCursor of a previous page");
  }
  if (body.st !== state || (body.n ?? null) !== name || (body.p === 1) !== namePrefix || (body.o === "t") !== timeOrder) {
    throw invalid("cursor", "this cursor belongs to a listing with another state or name");
  }
  if (body.sc === undefined) return { shard: body.s, after: null };
  const score = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
  const cold = new RegExp(`^${COLD_CURSOR}\\d+$`);
  if (typeof body.sc !== "string" || !(score.test(body.sc) || cold.test(body.sc)) || typeof body.id !== "string") {
    throw invalid("cursor", "expected the nextCursor of a previous page");
  }
  return { shard: body.s, after: { score: body.sc, id: body.id } };
}

export async function listTasks(listings: RedisListings, shards: ShardMap, options: ListOptions): Promise<ListResult> {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw invalid("limit", `expected an integer from 1 to ${MAX_LIST_LIMIT}`);
  if (!(LISTABLE_STATES as readonly string[]).includes(options.state)) throw invalid("state", `expected one of ${LISTABLE_STATES.join(", ")}`);
  if (options.name !== undefined && options.namePrefix !== undefined) throw invalid("namePrefix", "give name or namePrefix, not both");
  const namePrefix = options.namePrefix !== undefined;
  const name = options.name ?? options.namePrefix ?? null;
  if (options.order === "time") {
    if (options.state === "running") throw invalid("order", "running tasks are listed in claim order only (order=shard)");
    return listInTimeOrder(listings, shards, options.state, name, namePrefix, limit, options.cursor);
  }
  let position = { shard: 0, after: null as { score: string; id: string } | null };
  if (options.cursor) position = decodeCursor(options.cursor, options.state, name, shards, namePrefix);
  const tasks: TaskSummary[] = [];
  const nowMs = Date.now();
  // Records can hold 1 MiB of args each: bound what one request reads across shards too.
  let bytesLeft = LIST_MAX_BYTES;
  // While resizing the old and the new shards both hold tasks: list them all (span); after a
  // shrink, the shards before it still hold final records and their indexes (listSpan).
  const span = shards.listSpan;
  for (let shard = position.shard, after = position.after; shard < span; shard++, after = null) {
    const page = await listings.listPage(shards, shard, options.state, after, limit - tasks.length, LIST_BUDGET, name, bytesLeft, namePrefix);
    for (const entry of page.entries) {
      tasks.push(summaryOf(entry, shard, options.state, nowMs));
      bytesLeft -= entry.record.length;
    }
    if (page.next) {
      // Page full, or the scan budget ran out inside this shard: go on from right here.
      return { tasks, nextCursor: encodeCursor(options.state, name, shard, page.next, namePrefix) };
    }
    if (tasks.length >= limit || (bytesLeft <= 0 && shard + 1 < span)) {
      return { tasks, nextCursor: shard + 1 < span ? encodeCursor(options.state, name, shard + 1, null, namePrefix) : null };
    }
  }
  return { tasks, nextCursor: null };
}

/**
 * One time order across the shards (ListOptions.order "time"): every shard
 * is read after the same position and the pages merged (time-order.ts);
 * a page costs one bounded listing call per shard, in parallel. Scheduled
 * tasks beyond the cold horizon are in no time index (that is what makes
 * them cheap to keep): once every `due` index is exhausted they follow,
 * shard by shard, in storage order.
 */
async function listInTimeOrder(
  listings: RedisListings,
  shards: ShardMap,
  state: Exclude<ListableState, "running">,
  name: string | null,
  namePrefix: boolean,
  limit: number,
  cursor: string | undefined,
): Promise<ListResult> {
  const nowMs = Date.now();
  let position: { shard: number; after: { score: string; id: string } | null } = { shard: 0, after: null };
  if (cursor) position = decodeCursor(cursor, state, name, shards, namePrefix, true);
  const tasks: TaskSummary[] = [];
  let coldFrom = position.after?.score.startsWith(COLD_CURSOR) ? position : null;
  if (!coldFrom) {
    // Every shard that may hold the state's index: the old and new ones while resizing, and the
    // shards before a shrink (their final records stay until they expire).
    const listed = shards.listSpan;
    const perShardBytes = Math.max(1, Math.floor(LIST_MAX_BYTES / listed));
    // Each shard is asked for about twice its share of the page, not the whole page: tasks spread
    // over the shards, so that usually fills the page while reading a fraction of the records. A
    // shard that holds more of the next tasks answers with a cursor, and the merge stops there
    // (the page is short, never wrong).
    const perShard = Math.min(limit, Math.ceil((2 * limit) / listed) + TIME_ORDER_SLACK);
    const read = (shard: number, after: { score: string; id: string } | null) =>
      listings.listIndexPage(shard, state, after, perShard, LIST_BUDGET, name, perShardBytes, namePrefix);
    const pages = await Promise.all(Array.from({ length: listed }, async (_, shard) => ({ shard, page: await read(shard, position.after) })));
    // Tasks that finished (or fall due) together often sit on one shard (a bulk job works shard by
    // shard): the shards that hold the page back (their cursor is the frontier) are read further, a
    // few rounds at most, before a short page is answered.
    for (let round = 0; round < TIME_ORDER_ROUNDS; round++) {
      const frontier = frontierOf(pages);
      if (frontier === null || countUpTo(pages, frontier) >= limit) break;
      await Promise.all(
        pages.map(async (entry) => {
          if (!entry.page.next || comparePositions(entry.page.next, frontier) !== 0) return;
          const more = await read(entry.shard, entry.page.next);
          entry.page = { entries: [...entry.page.entries, ...more.entries], next: more.next };
        }),
      );
    }
    const merged = mergeTimeOrdered(pages, limit);
    for (const { shard, entry } of merged.entries) tasks.push(summaryOf(entry, shard, state, nowMs));
    if (merged.next) return { tasks, nextCursor: encodeCursor(state, name, 0, merged.next, namePrefix, true) };
    if (state !== "scheduled") return { tasks, nextCursor: null };
    // Every `due` index is exhausted: the cold tier follows, from shard 0's first slot, on this page if it has room.
    coldFrom = { shard: 0, after: { score: `${COLD_CURSOR}0`, id: "" } };
    if (tasks.length >= limit) return { tasks, nextCursor: encodeCursor(state, name, 0, coldFrom.after, namePrefix, true) };
  }
  let bytesLeft = LIST_MAX_BYTES;
  for (let shard = coldFrom.shard, after = coldFrom.after!; shard < shards.span; shard++, after = { score: `${COLD_CURSOR}${shard}`, id: "" }) {
    const page = await listings.listPage(shards, shard, "scheduled", after, limit - tasks.length, LIST_BUDGET, name, bytesLeft, namePrefix);
    for (const entry of page.entries) {
      tasks.push(summaryOf(entry, shard, state, nowMs));
      bytesLeft -= entry.record.length;
    }
    if (page.next) return { tasks, nextCursor: encodeCursor(state, name, shard, page.next, namePrefix, true) };
    if ((tasks.length >= limit || bytesLeft <= 0) && shard + 1 < shards.span) {
      return { tasks, nextCursor: encodeCursor(state, name, shard + 1, { score: `${COLD_CURSOR}${shard + 1}`, id: "" }, namePrefix, true) };
    }
  }
  return { tasks, nextCursor: null };
}
