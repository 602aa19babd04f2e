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

/**
 * Header names a target may not set: the ones above, and those that
 * describe the connection or the body (fetch sets them from what it sends;
 * a task that set Host would aim the request at another virtual host than
 * the URL that was checked).
 */
const RESERVED_HEADERS = new Set(["host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "proxy-authorization", "user-agent"]);
/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const MAX_TARGET_HEADERS = 32;
export const MAX_HEADER_VALUE_LENGTH = 4096;

/** Why a target's headers are not acceptable, as [field suffix, message], or null. */
export function headersProblem(headers: Readonly<Record<string, unknown>>): [string, string] | null {
  const names = Object.keys(headers);
  if (names.length > MAX_TARGET_HEADERS) return ["", `expected at most ${MAX_TARGET_HEADERS} headers`];
  for (const name of names) {
    const value = headers[name];
    if (!HEADER_NAME.test(name)) return [name, "expected a header name (letters, digits and !#$%&'*+-.^_`|~)"];
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || lower.startsWith("tickwheel-")) return [name, "is set by tickwheel and cannot be given"];
    if (typeof value !== "string") return [name, "expected a string"];
    if (value.length > MAX_HEADER_VALUE_LENGTH) return [name, `expected at most ${MAX_HEADER_VALUE_LENGTH} characters`];
    // CR, LF and NUL would split or end the header (request smuggling); other controls are refused by fetch.
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return [name, "expected no control characters"];
  }
  return null;
}
