/**
 * Pieces every route description shares: a JSON response entry and the
 * error responses (one shape, ErrorResponse) that any /v1 or /admin route
 * can answer.
 */
import { ErrorResponse } from "./schemas.ts";

export const json = <T>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });

/** Answers of every authenticated route. */
export const commonErrors = {
  401: json(ErrorResponse, "missing or wrong bearer token (when TICKWHEEL_API_TOKEN is set)"),
  503: json(
    ErrorResponse,
    "Redis unreachable (code unavailable) or refusing for now (redis_read_only, redis_cannot_persist, redis_loading, redis_cluster_down, " +
      "redis_replica_unavailable, redis_busy); Retry-After says when to try again; a refused write stored nothing",
  ),
  507: json(ErrorResponse, "Redis is out of memory (code redis_out_of_memory, maxmemory reached with noeviction); nothing was stored; Retry-After"),
};

/** Answers of routes that take a JSON body. */
export const bodyErrors = {
  400: json(ErrorResponse, "invalid input: the body is not JSON, or a field is missing, unknown or wrong (error.field names it)"),
  413: json(ErrorResponse, "request body over the size limit (refused before it is parsed)"),
  415: json(ErrorResponse, "Content-Type is not application/json"),
};
