/**
 * What a webhook delivery sends: the JSON body and its headers, signed.
 *
 * Body: {"id","name","args","attempt","dueAt","firedAt"} (times in epoch
 * ms; args is null when the task has none).
 * Headers: tickwheel-task-id, tickwheel-attempt, tickwheel-timestamp (Unix
 * seconds when the request was built) and tickwheel-signature: the hex
 * HMAC-SHA256, keyed with TICKWHEEL_WEBHOOK_SECRET, of
 * `${timestamp}.${body}` over the exact bytes sent. Signing the timestamp
 * with the body lets a receiver refuse replays of an old request (check
 * that the timestamp is within a few minutes of its clock) as well as
 * forgeries. The README gives the verifying recipe in JS and Python.
 *
 * The task's own target.headers go first, so none of them can replace one
 * of these (schedule-time validation refuses those names anyway).
 */
export const SIGNATURE_HEADER = "tickwheel-signature";
export const TIMESTAMP_HEADER = "tickwheel-timestamp";
export const TASK_ID_HEADER = "tickwheel-task-id";
export const ATTEMPT_HEADER = "tickwheel-attempt";
const USER_AGENT = "tickwheel-webhook/1";

export interface WebhookDelivery {
  id: string;
  name: string;
  args: unknown;
  attempt: number;
  dueAt: number;
  firedAt: number;
}

/** Hex HMAC-SHA256 of `${timestamp}.${body}` (Bun's hasher: ~2x cheaper per call than node:crypto's createHmac here). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return new Bun.CryptoHasher("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

export function webhookBody(delivery: WebhookDelivery): string {
  return JSON.stringify({
    id: delivery.id,
    name: delivery.name,
    args: delivery.args === undefined ? null : delivery.args,
    attempt: delivery.attempt,
    dueAt: delivery.dueAt,
    firedAt: delivery.firedAt,
  });
}

export interface BuiltRequest {
  body: string;
  headers: Record<string, string>;
}

/** Body and headers of one delivery, signed with `secret` at `nowMs`. */
export function buildWebhookRequest(delivery: WebhookDelivery, secret: string, extraHeaders: Readonly<Record<string, string>> | undefined): BuiltRequest {
  const body = webhookBody(delivery);
  const timestamp = String(Math.floor(delivery.firedAt / 1000));
  const headers: Record<string, string> = { ...extraHeaders };
  headers["content-type"] = "application/json";
  headers["user-agent"] = USER_AGENT;
  headers[TASK_ID_HEADER] = delivery.id;
  headers[ATTEMPT_HEADER] = String(delivery.attempt);
  headers[TIMESTAMP_HEADER] = timestamp;
  headers[SIGNATURE_HEADER] = signWebhook(secret, timestamp, body);
  return { body, headers };
}
