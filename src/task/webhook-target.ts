/**
 * The webhook target's shape and its schedule-time validation, shared by
 * every edge that schedules (HTTP, TS client, CLI): `{ "type": "webhook",
 * "url", "headers"?, "timeoutMs"? }`. A URL the outbound policy refuses is
 * bad input like any other: a TickwheelError naming `target.url`, which the
 * HTTP API answers with 400.
 */
import { invalid } from "./errors.ts";
import type { WebhookTarget } from "./model.ts";
import { checkWebhookUrl, type OutboundPolicy } from "../core/outbound-policy.ts";

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

/**
 * Header names a target may not set: the ones tickwheel signs and sends
 * (pool/targets/webhook/webhook-request.ts; every tickwheel-* name), and those that
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
