/**
 * One error shape for every HTTP failure: { "error": { code, message, field? } }.
 * Zod failures, malformed JSON, oversized bodies and our own TickwheelErrors
 * all end up here; clients never see a stack trace.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { TickwheelError, type ErrorCode } from "../task/errors.ts";

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

export function handleError(error: unknown, c: Context, log: (error: unknown) => void): Response {
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
  const message = String((error as Error)?.message ?? error);
  if (/ECONNREFUSED|Connection is closed|MaxRetriesPerRequest|Stream isn't writeable|ETIMEDOUT|CLUSTERDOWN/i.test(message)) {
    return c.json(errorBody("unavailable", "redis is unreachable; try again"), 503);
  }
  log(error);
  return c.json(errorBody("internal", "internal error"), 500);
}
