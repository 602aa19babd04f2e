/**
 * Bearer-token authentication for /v1 and /admin (and /metrics when asked).
 * The token is compared in constant time: both sides are hashed first, so
 * the comparison neither leaks the token's length nor stops at the first
 * differing byte.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorBody } from "./errors.ts";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function bearerAuth(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    const match = BEARER.exec(c.req.header("authorization") ?? "");
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      c.header("WWW-Authenticate", 'Bearer realm="tickwheel"');
      const message = match ? "wrong bearer token" : "missing bearer token: send Authorization: Bearer <TICKWHEEL_API_TOKEN>";
      return c.json(errorBody("unauthorized", message), 401);
    }
    await next();
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
