/**
 * Key names of the console's indexes and attempt history (issue 15). They
 * hang off a shard's done-key prefix, so they share its hash tag and the
 * scripts that write them (finish, retry, cancel) derive the same names from
 * the prefix they already take: see lua/lib/console.lua for what each holds.
 */
import type { ShardKeys } from "./keys.ts";

/** States with a console index: finished ones kept for their retention, and failed (waiting for a retry). */
export type IndexedState = "failed" | "succeeded" | "cancelled" | "expired";

export function consoleIndexKey(keys: ShardKeys, state: IndexedState): string {
  return `${keys.donePrefix}by:${state}`;
}

export function attemptHistoryKey(keys: ShardKeys): string {
  return `${keys.donePrefix}attempts`;
}

/** The field of a finished task's history in its final record's slot hash. */
export function finishedHistoryField(id: string): string {
  return `${id} attempts`;
}
