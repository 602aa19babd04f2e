/**
 * A claimed attempt on its way through the pool: everything needed to run
 * it and to finish it with a fenced script (shard, lease token, batch).
 */
import { decodeRecord, decodeSpec } from "../task/codec.ts";
import type { TaskSpec } from "../task/model.ts";

export interface Job {
  shard: number;
  leaseToken: string;
  /** The claim it came in (claim-6.lua): finish, retry and park name it. */
  batch: string;
  id: string;
  /** 1 for the first run: the stored record counts the attempts used up before this one. */
  attempt: number;
  dueMs: number;
  score: string;
  specJson: string;
  spec: TaskSpec;
  /**
   * Node-clock ms until which this attempt's batch is known to be claimed
   * (the claim's visibility deadline, pushed on by keepalives that reached
   * Redis in time): past it the reaper may hand the task to another worker.
   * Absent: not tracked (taken as never passing).
   */
  visibleUntilMs?: number;
}

export function jobFromClaim(shard: number, leaseToken: string, batch: string, id: string, record: string, visibleUntilMs = Infinity): Job {
  const decoded = decodeRecord(record);
  return {
    shard,
    leaseToken,
    batch,
    id,
    attempt: decoded.attempt + 1,
    dueMs: decoded.dueMs,
    score: decoded.score,
    specJson: decoded.specJson,
    spec: decodeSpec(decoded.specJson),
    visibleUntilMs,
  };
}
