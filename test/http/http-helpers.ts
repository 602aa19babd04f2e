// Shared by the HTTP tests: requests through createApp(node).request() (no socket), with JSON
// bodies, an optional bearer token, and the parsed answer.
import type { OpenAPIHono } from "@hono/zod-openapi";

export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
}

export function requester(app: OpenAPIHono, token?: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (token) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
    if (body !== undefined) {
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const response = await app.request(path, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics, HTML): keep the text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
}

/** The one error shape: { error: { code, message, field? } } and nothing that looks like a stack. */
export function expectErrorShape(body: any): void {
  if (typeof body !== "object" || body === null || typeof body.error !== "object") throw new Error(`not an error body: ${JSON.stringify(body)}`);
  const { code, message, field, ...rest } = body.error;
  if (typeof code !== "string" || typeof message !== "string") throw new Error(`error without code/message: ${JSON.stringify(body)}`);
  if (field !== undefined && typeof field !== "string") throw new Error(`field is not a string: ${JSON.stringify(body)}`);
  if (Object.keys(rest).length > 0) throw new Error(`unexpected error keys: ${Object.keys(rest).join(", ")}`);
  if (/\bat .+\(.*:\d+:\d+\)|\.ts:\d+/.test(JSON.stringify(body))) throw new Error(`stack trace leaked: ${JSON.stringify(body)}`);
}
