/**
 * The webhook target as the pool sees it (`{ type: "webhook", url,
 * headers?, timeoutMs? }`): one DeliveryTarget whose deliver() sends the
 * attempt through the WebhookSender and turns its verdict into the pool's
 * AttemptOutcome, for the outcome policy to decide retry, dead or done:
 *
 * - delivered → succeeded, the answer's JSON body as result;
 * - retry (408, 429, 5xx, connection error, timeout) → failed, with the
 *   Retry-After as retryAt when given;
 * - dead (3xx, other 4xx, an address refused at delivery) → failed, final
 *   "dead";
 * - gone (410) → failed, final "done": the task ends `succeeded` without a
 *   result, lastError "webhook answered 410 Gone …; not retried";
 * - not sent because this node has no TICKWHEEL_WEBHOOK_SECRET →
 *   unavailable: the task waits, using up no attempt, for a node that has
 *   one (an unsigned request is never sent).
 *
 * Always async (an HTTP exchange), so every delivery is an entry in the
 * pool's running map and counts against its concurrency bound.
 */
import type { Job } from "../../job.ts";
import type { AttemptOutcome, DeliveryContext, DeliveryTarget } from "../target.ts";
import type { WebhookTarget } from "../../../task/webhook-target.ts";
import { WebhookSender, type WebhookSenderOptions } from "./webhook-sender.ts";
import type { WebhookVerdict } from "./webhook-response.ts";

export function webhookTarget(options: WebhookSenderOptions): DeliveryTarget {
  const sender = new WebhookSender(options);
  const hasSecret = !!options.secret;
  return {
    type: "webhook",
    deliver(job: Job, ctx: DeliveryContext): AttemptOutcome | Promise<AttemptOutcome> {
      if (!hasSecret) return { kind: "unavailable", error: "webhook not sent: TICKWHEEL_WEBHOOK_SECRET is not set on this node" };
      const target = job.spec.target as WebhookTarget;
      return sender
        .send({ id: job.id, name: job.spec.name, args: job.spec.args, attempt: job.attempt, dueAt: job.dueMs }, target, target.timeoutMs ?? job.spec.timeoutMs, ctx.stopSignal)
        .then(outcomeOf);
    },
  };
}

function outcomeOf(verdict: WebhookVerdict): AttemptOutcome {
  switch (verdict.kind) {
    case "delivered":
      return { kind: "succeeded", result: verdict.result };
    case "retry":
      return verdict.retryAtMs === undefined ? { kind: "failed", error: verdict.error } : { kind: "failed", error: verdict.error, retryAt: verdict.retryAtMs };
    case "dead":
      return { kind: "failed", error: verdict.error, final: "dead" };
    case "gone":
      return { kind: "failed", error: verdict.error, final: "done" };
  }
}
