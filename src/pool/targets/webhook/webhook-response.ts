/**
 * What a webhook's answer means for the task: the one place that maps HTTP
 * statuses to done, retry or dead. Pure, so every status is unit-tested.
 *
 * - 2xx: delivered. Its body, when it is JSON and fits the bound, is the
 *   task's result.
 * - 410 Gone: the receiver says this task must not be sent again: there is
 *   nothing left to do. The task ends at once, whatever attempts are left,
 *   as `succeeded` without a result and with lastError "webhook answered
 *   410 Gone …; not retried" (the outcome policy's "done"). Not `dead`:
 *   nothing failed and there is nothing for an operator to retry; the
 *   lastError tells it apart from a delivery that was acted on.
 * - 408, 429, 5xx: the receiver is busy or broken: retried with the task's
 *   backoff, or at the time its Retry-After names.
 * - 3xx: redirects are not followed (the new location would escape the
 *   address check): the task is dead, lastError names the location.
 * - any other 4xx: retrying the same request cannot help: dead, with the
 *   status in lastError.
 * Connection errors and timeouts never reach here: they are retried
 * (webhook-sender.ts).
 */

export type WebhookVerdict =
  | { kind: "delivered"; result: unknown }
  | { kind: "retry"; error: string; retryAtMs?: number }
  | { kind: "dead"; error: string }
  /** 410: ends now (succeeded, with the error as lastError), not retried. */
  | { kind: "gone"; error: string };

export interface WebhookAnswer {
  status: number;
  statusText: string;
  /** Retry-After as sent, or null. */
  retryAfter: string | null;
  location: string | null;
  /** The body as far as it was read (see readBounded), or null when it was over the bound. */
  bodyText: string | null;
}

/** How much of an error body goes into lastError. */
const ERROR_BODY_CHARS = 200;

export function classifyAnswer(answer: WebhookAnswer, nowMs: number): WebhookVerdict {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: "delivered", result: resultOf(answer.bodyText) };
  const described = describeStatus(answer);
  if (status === 410) return { kind: "gone", error: `${described}: the receiver declined the task; not retried` };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAtMs = answer.retryAfter === null ? null : parseRetryAfter(answer.retryAfter, nowMs);
    return retryAtMs === null ? { kind: "retry", error: described } : { kind: "retry", error: described, retryAtMs };
  }
  if (status >= 300 && status < 400) {
    const to = answer.location ? ` to ${answer.location.slice(0, 300)}` : "";
    return { kind: "dead", error: `${described}${to}; redirects are not followed: set target.url to the final address` };
  }
  return { kind: "dead", error: described };
}

function describeStatus(answer: WebhookAnswer): string {
  const text = answer.statusText ? ` ${answer.statusText}` : "";
  const body = answer.bodyText ? answer.bodyText.trim().replace(/\s+/g, " ") : "";
  const shown = body.length > ERROR_BODY_CHARS ? `${body.slice(0, ERROR_BODY_CHARS)}…` : body;
  return `webhook answered ${answer.status}${text}${shown ? `: ${shown}` : ""}`;
}

/** A JSON body is the result; an empty, non-JSON or oversized one leaves the task without one. */
function resultOf(bodyText: string | null): unknown {
  if (bodyText === null || bodyText.length === 0) return undefined;
  try {
    return JSON.parse(bodyText);
  } catch {
    return undefined;
  }
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Answers
 * the epoch ms to retry at (never before now), or null if it is neither.
 */
export function parseRetryAfter(value: string, nowMs: number): number | null {
  const text = value.trim();
  if (/^\d+$/.test(text)) return nowMs + Number(text) * 1000;
  // An HTTP-date always names the weekday and GMT; Date.parse alone would accept "5" or "tomorrow"-ish text.
  if (!/^[A-Za-z]{3,9},? .+ GMT$/.test(text)) return null;
  const atMs = Date.parse(text);
  if (!Number.isFinite(atMs)) return null;
  return Math.max(nowMs, atMs);
}
