/**
 * How the CLI talks to a node: HTTP to TICKWHEEL_URL (default
 * http://127.0.0.1:7420) with TICKWHEEL_API_TOKEN as a bearer token. Every
 * failure becomes a CliError carrying the exit code it means (see EXIT).
 */
import { DEFAULT_HOST, DEFAULT_PORT } from "../config/defaults.ts";

export const EXIT = {
  ok: 0,
  /** Anything unexpected: a 5xx other than 503, a reply that is not ours. */
  failure: 1,
  /** Bad command line or input the node refused (400, 413, 415, 422). */
  usage: 2,
  notFound: 3,
  conflict: 4,
  unauthorized: 5,
  /** The node cannot be reached, or its Redis cannot take the request: 503 (unreachable, read-only, loading…) or 507 (out of memory). */
  unavailable: 6,
} as const;

export const DEFAULT_URL = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
const TIMEOUT_MS = 15_000;

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
    /** The node's error body, printed as is with --json. */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  url: string;
  token?: string | undefined;
}

export async function call<T>(options: ApiOptions, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const url = options.url.replace(/\/+$/, "") + path;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new CliError(`cannot reach the node at ${options.url}: ${(error as Error).message} (set TICKWHEEL_URL or --url)`, EXIT.unavailable);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    throw new CliError(`${method} ${path}: the node at ${options.url} answered ${response.status} with something that is not JSON`, EXIT.failure);
  }
  if (response.ok) return parsed as T;
  const error = (parsed as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  // One line: the node's message, naming the field the node names beside it (zod's messages do
  // not), with the code when it is a Redis refusal (an operator greps for it).
  const message = error?.message ?? `HTTP ${response.status}`;
  const detail =
    (error?.field && !message.startsWith(`${error.field}:`) ? `${error.field}: ${message}` : message) +
    (error?.code?.startsWith("redis_") ? ` (${error.code})` : "");
  throw new CliError(detail, exitCodeOf(response.status), parsed);
}

function exitCodeOf(status: number): number {
  if (status === 400 || status === 413 || status === 415 || status === 422) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.unauthorized;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 503 || status === 507) return EXIT.unavailable;
  return EXIT.failure;
}
