/**
 * Celery hand-offs on tickwheel's own Redis server: the store part the
 * Celery target uses when the broker is this very server (same run_id).
 * One script per call (celery-handoff-5.lua) ends each task `succeeded` on
 * its shard and LPUSHes its message onto the broker's list (in the broker's
 * database), so no crash can push a task twice. On a Redis Cluster there is
 * no such hand-off (serverRunId answers null): the broker list is in no
 * shard's hash slot, and the target pushes, then finishes.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";
import { finalsSlotExpiry } from "./finals.ts";
import { LEASE_LOST, type LeaseLost } from "./outcomes.ts";
import { runIdOf } from "./celery-broker.ts";
import type { CeleryEnvelopeParts, CeleryEnvelopeTemplate } from "./celery-envelope.ts";

export type { CeleryEnvelopeParts, CeleryEnvelopeTemplate };

/** One Celery hand-off: the task's finish and its message's push. */
export interface CeleryHandoffItem {
  id: string;
  batch: string;
  finishedAt: number;
  /** The final record's tail (state succeeded: codec.ts encodeFinalTail), joined around the spec by the script and kept for ttlMs. */
  finalTail: string;
  ttlMs: number;
  /** The broker list and the message envelope to LPUSH onto it, whole or as a template's values. */
  listKey: string;
  envelope: string | CeleryEnvelopeParts;
}

export class RedisCeleryHandoff {
  constructor(
    private readonly runner: ScriptRunner,
    private readonly keyBook: KeyBook,
    /** The database index tickwheel's data is in (REDIS_URL's path; 0 when absent or on a cluster). */
    readonly database: number,
  ) {}

  /** The run_id of tickwheel's Redis server (equal run_ids are one server process); null on a Redis Cluster. */
  async serverRunId(): Promise<string | null> {
    return this.runner.clustered ? null : runIdOf(this.runner.redis);
  }

  /**
   * Finishes claimed Celery tasks as succeeded and pushes their messages onto
   * the broker's lists (database `brokerDb` of this same server) in one
   * script. Answers per item whether it was handed off (false: its batch was
   * reaped, nothing was pushed), or LEASE_LOST (nothing changed).
   */
  async celeryHandoff(shard: number, token: string, brokerDb: number, items: CeleryHandoffItem[]): Promise<boolean[] | LeaseLost> {
    const keys = this.keyBook.shard(shard);
    // Grouped by batch, expiry slot, list and template (one HSET and one LPUSH per group in the
    // script); a call's items mostly share all four, so the last group and expiry are kept.
    const groups = new Map<string, Group>();
    let lastFinishedAt = NaN;
    let lastTtl = NaN;
    let expiry = 0;
    let last: Group | undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.finishedAt !== lastFinishedAt || item.ttlMs !== lastTtl) {
        lastFinishedAt = item.finishedAt;
        lastTtl = item.ttlMs;
        expiry = finalsSlotExpiry(item.finishedAt, item.ttlMs);
      }
      const template = typeof item.envelope === "string" ? null : item.envelope.template;
      if (last === undefined || last.batch !== item.batch || last.expiry !== expiry || last.listKey !== item.listKey || last.template !== template) {
        const key = `${item.batch}|${expiry}|${item.listKey}|${template === null ? "" : template.serial}`;
        last = groups.get(key);
        if (!last) groups.set(key, (last = { batch: item.batch, expiry, listKey: item.listKey, template, order: [] }));
      }
      last.order.push(i);
    }
    // The hand-off's time for the console's succeeded index (the items' finish time, as finish uses).
    const args: (string | number)[] = [token, keys.donePrefix, this.database, brokerDb, Number.isNaN(lastFinishedAt) ? Date.now() : lastFinishedAt];
    const order: number[] = [];
    for (const group of groups.values()) {
      const packed: string[] = new Array(group.order.length * (group.template === null ? 3 : 7));
      let p = 0;
      for (const i of group.order) {
        const item = items[i]!;
        packed[p++] = item.id;
        packed[p++] = item.finalTail;
        const envelope = item.envelope;
        if (typeof envelope === "string") {
          packed[p++] = envelope;
        } else {
          packed[p++] = envelope.body;
          // Most ids need no escaping: the script then quotes the id itself (fewer bytes to send).
          packed[p++] = envelope.idJson.length === item.id.length + 2 ? "" : envelope.idJson;
          packed[p++] = envelope.expiresJson;
          packed[p++] = envelope.argsreprJson;
          packed[p++] = envelope.deliveryTag;
        }
        order.push(i);
      }
      args.push(group.batch, group.expiry, group.listKey, group.template === null ? "" : group.template.packedPieces, group.order.length, packed.join("\0"));
    }
    // Written to the socket now, not with the next automatic pipeline: the target sends a burst's
    // first hand-offs while the rest of it is still being started.
    const flags = String(await this.runner.runNow("celeryHandoff", [keys.tasks, keys.err, keys.progress, keys.lease, keys.claims], args));
    if (flags === LEASE_LOST) return LEASE_LOST;
    const out = new Array<boolean>(items.length);
    for (let k = 0; k < order.length; k++) out[order[k]!] = flags.charCodeAt(k) === 49; // "1"
    return out;
  }
}

interface Group {
  batch: string;
  expiry: number;
  listKey: string;
  template: CeleryEnvelopeTemplate | null;
  order: number[];
}
