/**
 * Which delivery targets a task may be scheduled with, checked once at the
 * boundary (client, HTTP, CLI all go through resolveTask). Today only the
 * in-process handler exists. Issue 11 adds a case per type here (webhook:
 * url, headers, timeoutMs and the outbound allow-list; celery: task, queue,
 * priority, kwargs), beside its zod schema in src/http/schemas.ts
 * (TargetBody) and its deliverer in src/pool/targets/.
 */
import { HANDLER_TARGET } from "./codec.ts";
import { invalid } from "./errors.ts";
import type { Target } from "./model.ts";
import { DEFAULT_OUTBOUND_POLICY, type OutboundPolicy } from "../core/outbound-policy.ts";
import { validateWebhookTarget } from "./webhook-target.ts";

import { resolveCeleryTarget } from "./celery-target.ts";

export const TARGET_TYPES = ["handler", "webhook", "celery"] as const satisfies readonly Target["type"][];

/**
 * The target to store, or an error naming the field. The handler target comes
 * back as the one shared frozen object, so its tasks' specs stay as compact
 * (the codec leaves it out) and the pool takes its fast path by identity.
 */
export function resolveTarget(value: unknown, outbound: OutboundPolicy = DEFAULT_OUTBOUND_POLICY): Target {
  if (value === undefined) return HANDLER_TARGET;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("target", `expected an object with a "type" (one of ${TARGET_TYPES.join(", ")})`);
  }
  const type = (value as { type?: unknown }).type;
  switch (type) {
    case "handler": {
      const extra = Object.keys(value).find((key) => key !== "type");
      if (extra !== undefined) throw invalid(`target.${extra}`, `unknown field for a "handler" target`);
      return HANDLER_TARGET;
    }
    case "webhook":
      // URL, scheme, literal addresses and metadata names against the outbound policy; names are
      // checked again after DNS resolution at delivery.
      return validateWebhookTarget(value as Record<string, unknown>, outbound);
    case "celery":
      return resolveCeleryTarget(value as Record<string, unknown>);
    default:
      throw invalid("target.type", `expected one of ${TARGET_TYPES.join(", ")}`);
  }
}
