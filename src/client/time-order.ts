/**
 * Merging the shards' pages of one state into one time order (the console's
 * lists, issue 15): every shard is read after the same (score, id) position,
 * each answers in its index order, and the merge keeps only what is known
 * to come before anything a shard has not answered yet. Pure: the client
 * does the reads.
 *
 * A shard's page can stop early (its scan budget or byte bound ran out) with
 * a cursor: the entries after that cursor are unknown, so the merge stops at
 * the smallest such cursor (the frontier) and the next page starts there.
 */
import type { ListEntry, ListPage } from "../store/outcomes.ts";

export interface Position {
  score: string;
  id: string;
}

/** (score, id) order, as a ZSET orders its entries (ids are ASCII: code-unit order is byte order). */
export function comparePositions(a: Position, b: Position): number {
  const byScore = Number(a.score) - Number(b.score);
  if (byScore !== 0) return byScore;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface MergedPage {
  /** At most `limit` entries in time order, each with its shard. */
  entries: { shard: number; entry: ListEntry }[];
  /** Where the next page starts; null when every shard's index is exhausted. */
  next: Position | null;
}

/** The smallest cursor of a shard that stopped early: nothing after it is known yet. Null: every shard is exhausted. */
export function frontierOf(pages: { page: ListPage }[]): Position | null {
  let frontier: Position | null = null;
  for (const { page } of pages) {
    if (page.next && (frontier === null || comparePositions(page.next, frontier) < 0)) frontier = page.next;
  }
  return frontier;
}

/** How many read entries are at or before a position (what a page could hold). */
export function countUpTo(pages: { page: ListPage }[], frontier: Position): number {
  let count = 0;
  for (const { page } of pages) for (const entry of page.entries) if (comparePositions(entry, frontier) <= 0) count++;
  return count;
}

export function mergeTimeOrdered(pages: { shard: number; page: ListPage }[], limit: number): MergedPage {
  const frontier = frontierOf(pages);
  const all: { shard: number; entry: ListEntry }[] = [];
  for (const { shard, page } of pages) {
    for (const entry of page.entries) {
      if (frontier === null || comparePositions(entry, frontier) <= 0) all.push({ shard, entry });
    }
  }
  all.sort((a, b) => comparePositions(a.entry, b.entry));
  if (all.length > limit) {
    const entries = all.slice(0, limit);
    const last = entries[entries.length - 1]!.entry;
    return { entries, next: { score: last.score, id: last.id } };
  }
  // Everything up to the frontier is taken: go on from it (or stop: no shard has more).
  return { entries: all, next: frontier };
}
