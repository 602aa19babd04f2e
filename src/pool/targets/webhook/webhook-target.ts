/**
 * The webhook target's shape and its schedule-time validation, shared by
 * every edge that schedules (HTTP, TS client, CLI): `{ "type": "webhook",
 * "url", "headers"?, "timeoutMs"? }`. A URL the outbound policy refuses is
 * bad input like any other: a TickwheelError naming `target.url`, which the
 * HTTP API answers with 400.
 */
import { invalid } from "../../../task/errors.ts";
import type { WebhookTarget } from "../../../task/model.ts";
import { checkWebhookUrl, type OutboundPolicy } from "./outbound-policy.ts";
import { headersProblem } from "./webhook-request.ts";

export type { WebhookTarget };

/** Longest a single webhook request may take: far past any sane receiver, short of a stuck socket held forever. */
export const MAX_WEBHOOK_TIMEOUT_MS = 15 * 60_000;

/** Validates a webhook target at schedule time; throws invalid("target.…") naming the bad field. */
export function validateWebhookTarget(raw: Record<string, unknown>, policy: OutboundPolicy): WebhookTarget {
  for (const key of Object.keys(raw)) {
    if (key !== "type" && key !== "url" && key !== "headers" && key !== "timeoutMs") throw invalid(`target.${key}`, `unknown field "target.${key}"`);
  }
  const checked = checkWebhookUrl(raw.url, policy);
  if ("refused" in checked) throw invalid("target.url", checked.refused);
  const target: WebhookTarget = { type: "webhook", url: checked.url.href };
  if (raw.headers !== undefined) {
    if (raw.headers === null || typeof raw.headers !== "object" || Array.isArray(raw.headers)) throw invalid("target.headers", "expected an object of header name to string value");
    const problem = headersProblem(raw.headers as Record<string, unknown>);
    if (problem) throw invalid(problem[0] ? `target.headers.${problem[0]}` : "target.headers", problem[1]);
    if (Object.keys(raw.headers).length > 0) target.headers = { ...(raw.headers as Record<string, string>) };
  }
  if (raw.timeoutMs !== undefined) {
    const timeoutMs = raw.timeoutMs;
    if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WEBHOOK_TIMEOUT_MS) {
      throw invalid("target.timeoutMs", `expected an integer from 1 to ${MAX_WEBHOOK_TIMEOUT_MS} (ms)`);
    }
    target.timeoutMs = timeoutMs;
  }
  return target;
}
