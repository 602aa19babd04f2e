/**
 * The Celery delivery target: at the due time, one Celery protocol-2 message
 * for the task (task id = tickwheel id, never an eta) is pushed onto its
 * queue on the Celery broker (TICKWHEEL_CELERY_BROKER_URL), and the task
 * ends `succeeded`: tickwheel's part is done once a worker can take it.
 * Celery's own outcome is read from its result backend (GET /v1/tasks/:id).
 *
 * Two ways, chosen once when the node starts (node/celery-wiring.ts):
 * - the broker is tickwheel's own Redis server (standalone): the finish and
 *   the push are one script (HandoffBatcher, celery-handoff-5.lua), so a crash
 *   cannot push a task twice;
 * - otherwise (another server, or tickwheel on a Redis Cluster, where no
 *   script can reach a key outside the shard's slot): push, then finish. A
 *   crash between the two leaves the task claimed; the reaper returns it
 *   after its visibility deadline and it is pushed again (at least once).
 *
 * A message that fails its check is a task that can never be delivered: dead
 * at once. A broker that cannot be reached uses up no attempt: the task
 * waits (BrokerBackoff) and is pushed when the broker is back.
 */
import { randomUUID } from "node:crypto";
import { encodeFinalTail } from "../../../task/codec.ts";
import type { CeleryTarget } from "../../../task/model.ts";
import type { Job } from "../../job.ts";
import type { AttemptOutcome, DeliveryContext, DeliveryTarget } from "../target.ts";
import { BrokerBackoff } from "./broker-backoff.ts";
import { type CeleryHandoffStore, HandoffBatcher } from "./handoff-batcher.ts";
import { PushBatcher, type CeleryListPusher } from "./push-batcher.ts";
import { CeleryMessageError, DEFAULT_CELERY_QUEUE, DEFAULT_TRANSPORT, type CeleryTransportOptions } from "./message.ts";
import { CeleryMessageTemplates, type CeleryMessageForHandoff } from "./message-templates.ts";

export interface CeleryTargetOptions {
  /** The broker, for the push-then-finish way. */
  broker: CeleryListPusher;
  /** Set when the broker is tickwheel's own server: hand-offs are one script (database `brokerDb`). */
  sameServer?: { store: CeleryHandoffStore; brokerDb: number };
  /** Mirror of the workers' broker_transport_options (key prefix, priority steps). */
  transport?: CeleryTransportOptions;
  /** Celery's `origin` header: who produced the message. */
  origin: string;
  /** How long a finished task's record is kept (the node's retention). */
  retentionMs: number;
  now?: () => number;
}

const EMPTY_KWARGS: Readonly<Record<string, unknown>> = Object.freeze({});
const EMPTY_KWARGS_JSON = "{}";
const EMPTY_ARGS: readonly unknown[] = Object.freeze([]);

export class CeleryDeliveryTarget implements DeliveryTarget {
  readonly type = "celery" as const;
  private readonly backoff = new BrokerBackoff();
  private readonly batcher: HandoffBatcher | null;
  private readonly pusher: PushBatcher;
  private readonly messages: CeleryMessageTemplates;
  private readonly now: () => number;
  /** The last hand-off time and its text: a burst's hand-offs share their ms. */
  private lastPushedAt = NaN;
  private lastPushedAtText = "";
  /** The last queue and its JSON text (for the final record's result). */
  private lastQueue = "";
  private lastQueueJson = '""';

  constructor(private readonly options: CeleryTargetOptions) {
    this.batcher = options.sameServer
      ? new HandoffBatcher(
          options.sameServer.store,
          options.sameServer.brokerDb,
          (error) => this.brokerDown(error),
          () => this.backoff.succeeded(),
        )
      : null;
    this.pusher = new PushBatcher(options.broker);
    this.messages = new CeleryMessageTemplates(options.transport ?? DEFAULT_TRANSPORT, options.origin);
    this.now = options.now ?? Date.now;
  }

  /** Whether hand-offs are one script (the broker is tickwheel's own server). */
  get atomic(): boolean {
    return this.batcher !== null;
  }

  deliver(job: Job, _ctx: DeliveryContext): AttemptOutcome | Promise<AttemptOutcome> {
    const target = job.spec.target as CeleryTarget;
    const queue = target.queue ?? DEFAULT_CELERY_QUEUE;
    const kwargs = target.kwargs ?? EMPTY_KWARGS;
    let message: CeleryMessageForHandoff;
    try {
      const key = { task: target.task, queue, priority: target.priority ?? 0, kwargs, kwargsJson: target.kwargs === undefined ? EMPTY_KWARGS_JSON : JSON.stringify(kwargs) };
      const args = Array.isArray(job.spec.args) ? job.spec.args : EMPTY_ARGS;
      // A templated envelope goes as its template's values: the script on Redis joins them.
      message = this.messages.forHandoff(key, job.id, args, randomUUID(), job.spec.expiresAt);
    } catch (error) {
      // Checked when scheduled, so only a record written another way gets here; it can never pass.
      if (error instanceof CeleryMessageError) return { kind: "failed", error: `invalid Celery message: ${error.message}`, final: "dead" };
      throw error;
    }
    const pushedAt = this.now();
    if (pushedAt !== this.lastPushedAt) {
      this.lastPushedAt = pushedAt;
      this.lastPushedAtText = String(pushedAt);
    }
    if (this.batcher) {
      // The task's final record, as the completer would write it for a success with this result
      // ({ celeryQueue, pushedAt }), joined and stored by the hand-off script around the spec it
      // has (see finish-7.lua): the node sends only the tail.
      const dueAt = job.score.includes(".") ? String(job.dueMs) : job.score;
      if (queue !== this.lastQueue) {
        this.lastQueue = queue;
        this.lastQueueJson = JSON.stringify(queue);
      }
      const resultJson = `,"result":{"celeryQueue":${this.lastQueueJson},"pushedAt":${this.lastPushedAtText}}`;
      return this.batcher.add(job, {
        id: job.id,
        batch: job.batch,
        finishedAt: pushedAt,
        finalTail: encodeFinalTail(job.attempt, dueAt, this.lastPushedAtText, resultJson),
        ttlMs: this.options.retentionMs,
        listKey: message.key,
        envelope: message.envelope,
      });
    }
    const result = { celeryQueue: queue, pushedAt };
    return this.pusher.add(message.key, message.envelope).then((error): AttemptOutcome => {
      if (error) return this.brokerDown(error);
      this.backoff.succeeded();
      return { kind: "succeeded", result };
    });
  }

  private brokerDown(error: unknown): AttemptOutcome {
    const reason = error instanceof Error ? error.message : String(error);
    return { kind: "unavailable", error: `Celery broker unreachable: ${reason}`, retryAt: this.backoff.failed(this.now()) };
  }
}
