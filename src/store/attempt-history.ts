/**
 * Reading a task's attempt history (the console's task page, issue 15): the
 * last failed attempts, each with its time and error. Written by the retry,
 * finish and cancel scripts (lua/lib/console.lua); a pending task's history
 * sits in the shard's history hash, a finished task's in the slot hash of its
 * final record, where it expires with it. Read-only, plain commands: a page
 * view needs no atomic snapshot.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { attemptHistoryKey, finishedHistoryField } from "./console-keys.ts";

export interface FailedAttempt {
  /** When the attempt failed (ms). */
  at: number;
  /** Which attempt it was (1 = the first). */
  attempt: number;
  error: string;
}

export class RedisAttemptHistory {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  /** The failed attempts kept for a task, oldest first (empty when none failed or none are kept). */
  async failedAttempts(shard: number, id: string): Promise<FailedAttempt[]> {
    const keys = this.keyBook.shard(shard);
    const redis = this.runner.redis;
    let text = await redis.hget(attemptHistoryKey(keys), id);
    if (text === null) {
      // Finished: the history sits beside the final record, in one of the live slot hashes.
      const slots = await redis.zrangebyscore(`${keys.donePrefix}slots`, `(${Date.now()}`, "+inf");
      const found = await Promise.all(slots.map((slot) => redis.hget(keys.donePrefix + slot, finishedHistoryField(id))));
      text = found.find((value) => value !== null) ?? null;
    }
    if (text === null) return [];
    return text.split("\n").map(parseLine).filter((line): line is FailedAttempt => line !== null);
  }
}

function parseLine(line: string): FailedAttempt | null {
  const first = line.indexOf("\t");
  const second = line.indexOf("\t", first + 1);
  if (first < 0 || second < 0) return null;
  return { at: Number(line.slice(0, first)), attempt: Number(line.slice(first + 1, second)), error: line.slice(second + 1) };
}
