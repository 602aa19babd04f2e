/**
 * A claimed attempt on its way through the pool: everything needed to run
 * it and to finish it with a fenced script (shard, lease token, attempt).
 */
import { decodeRecord, decodeSpec } from "../task/codec.ts";
import type { TaskSpec } from "../task/model.ts";

export interface Job {
  shard: number;
  leaseToken: string;
  id: string;
  attempt: number;
  dueMs: number;
  score: string;
  specJson: string;
  spec: TaskSpec;
}

export function jobFromClaim(shard: number, leaseToken: string, id: string, record: string): Job {
  const decoded = decodeRecord(record);
  return {
    shard,
    leaseToken,
    id,
    attempt: decoded.attempt,
    dueMs: decoded.dueMs,
    score: decoded.score,
    specJson: decoded.specJson,
    spec: decodeSpec(decoded.specJson),
  };
}
