/**
 * One error shape for every HTTP failure: { "error": { code, message, field? } }.
 * Zod failures, malformed JSON, oversized bodies and our own TickwheelErrors
 * all end up here; clients never see a stack trace.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { TickwheelError, type ErrorCode } from "../task/errors.ts";
import { asRedisRefusal, RedisRefusal } from "../store/redis-errors.ts";

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** HTTP status of each TickwheelError code (args over the limit inside a valid body is a field error: 400). */
export const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_input: 400,
  payload_too_large: 400,
  not_found: 404,
  conflict: 409,
  unknown_task: 422,
  unavailable: 503,
  // Redis refusals: 507 when its memory is full (retrying soon rarely helps: tasks must finish or
  // the operator must act), 503 with Retry-After for the transient ones, 500 for the unexpected.
  redis_out_of_memory: 507,
  redis_read_only: 503,
  redis_cannot_persist: 503,
  redis_loading: 503,
  redis_cluster_down: 503,
  redis_replica_unavailable: 503,
  redis_busy: 503,
  redis_error: 500,
};

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** Turns zod issues into our shape, naming the first offending field. */
export function zodErrorBody(issues: readonly { code: string; path: PropertyKey[]; message: string; keys?: string[] }[]): ErrorBody {
  const issue = issues[0];
  if (!issue) return errorBody("invalid_input", "invalid input");
  if (issue.code === "unrecognized_keys" && issue.keys?.length) {
    const field = [...issue.path.map(String), issue.keys[0]!].join(".");
    return errorBody("invalid_input", `unknown field "${field}"`, field);
  }
  const field = issue.path.map(String).join(".") || undefined;
  return errorBody("invalid_input", issue.message, field);
}

/** Status and headers of a Redis refusal (Retry-After for the ones worth retrying). */
export function refusalResponse(refusal: RedisRefusal, c: Context): Response {
  if (refusal.retryAfterS !== null) c.header("Retry-After", String(refusal.retryAfterS));
  return c.json(errorBody(refusal.code, refusal.message), STATUS[refusal.code]);
}

/**
 * The response for any error a route let through. `log` gets what is worth
 * a log line (unexpected errors); `onRedisError` every Redis refusal or
 * outage, for metrics and the throttled log.
 */
export function handleError(error: unknown, c: Context, log: (error: unknown) => void, onRedisError?: (refusal: RedisRefusal) => void): Response {
  const refusal = asRedisRefusal(error);
  if (refusal instanceof RedisRefusal) {
    onRedisError?.(refusal);
    if (refusal.kind === "other") {
      log(error);
      return c.json(errorBody("internal", "internal error"), 500);
    }
    return refusalResponse(refusal, c);
  }
  if (error instanceof TickwheelError) {
    return c.json(errorBody(error.code, error.message, error.field), STATUS[error.code]);
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status === 413) return c.json(errorBody("payload_too_large", error.message || "request body too large"), 413);
    if (status === 400) {
      // Hono's JSON validator throws this for a body that does not parse.
      return c.json(errorBody("invalid_json", "request body is not valid JSON"), 400);
    }
    if (status === 415) return c.json(errorBody("unsupported_media_type", "expected Content-Type: application/json"), 415);
    return c.json(errorBody("http_error", error.message || "request failed"), status as ContentfulStatusCode);
  }
  if (error instanceof SyntaxError) return c.json(errorBody("invalid_json", "request body is not valid JSON"), 400);
  log(error);
  return c.json(errorBody("internal", "internal error"), 500);
}
