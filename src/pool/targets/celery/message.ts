/**
 * Celery protocol-2 messages for the Redis transport, built from one audited template and
 * checked before they are pushed.
 *
 * A Celery 5.2 worker that pops a malformed envelope can exit, and some malformed envelopes are
 * put back on the queue when it shuts down, so every restarted worker dies on them again
 * (/work/shared/reference/celery-protocol.md §7). So nothing leaves tickwheel that
 * `celeryMessageProblem` has not accepted, and the template sets exactly the fields a worker
 * needs plus the ones Celery itself writes that help operators (root_id, argsrepr, origin).
 *
 * Never an `eta`: a future eta makes the worker hold the task in memory, which is what tickwheel
 * exists to avoid. A tickwheel `expiresAt` becomes Celery's `expires`, so a message that reaches
 * the worker too late is revoked there rather than run.
 *
 * Pure: no Redis, no clock. The store pushes what this returns.
 */
import { CELERY_PRIORITY_MAX, CELERY_PRIORITY_MIN, celeryNameProblem } from "../../../task/celery-target.ts";

/** Celery's default queue (`task_default_queue`). */
export const DEFAULT_CELERY_QUEUE = "celery";
/** kombu's Redis transport defaults (`broker_transport_options`): priority_steps and sep. */
export const DEFAULT_PRIORITY_STEPS: readonly number[] = Object.freeze([0, 3, 6, 9]);
export const DEFAULT_PRIORITY_SEP = "\x06\x16";

/** How the worker's broker is laid out; mirror the worker's `broker_transport_options`. */
export interface CeleryTransportOptions {
  /** `global_keyprefix`: prepended to list keys, never to the routing key. */
  keyPrefix: string;
  /** `sep` between a queue name and its priority step. */
  prioritySep: string;
  /** `priority_steps`, ascending, starting at 0. */
  prioritySteps: readonly number[];
}

export const DEFAULT_TRANSPORT: CeleryTransportOptions = Object.freeze({
  keyPrefix: "",
  prioritySep: DEFAULT_PRIORITY_SEP,
  prioritySteps: DEFAULT_PRIORITY_STEPS,
});

export interface CeleryMessageInput {
  /** Celery task id (`headers.id`): the tickwheel task id, so results are found by it. */
  id: string;
  /** Registered Celery task name, e.g. `app.tasks.send_email`. */
  task: string;
  args: readonly unknown[];
  kwargs: Readonly<Record<string, unknown>>;
  queue: string;
  priority: number;
  /** Unique per push, re-pushes included: the worker's `unacked` hash is keyed by it. */
  deliveryTag: string;
  /** Epoch ms after which the worker must not run it (Celery `expires`), or null. */
  expiresAtMs: number | null;
  /** Shown by Celery as the producer (`origin`), e.g. `tickwheel@<node id>`. */
  origin: string;
}

export interface CeleryMessage {
  /** The Redis list to LPUSH onto (queue, or queue + sep + step, with the key prefix). */
  key: string;
  /** The envelope, as the JSON text to push. */
  envelope: string;
}

/** The callbacks part of the body, as Celery writes it. */
export const CELERY_EMBED_JSON = JSON.stringify({ callbacks: null, errbacks: null, chain: null, chord: null });

/** An error in a message that must not be pushed; `field` names what is wrong. */
export class CeleryMessageError extends Error {
  readonly code = "invalid_celery_message" as const;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "CeleryMessageError";
  }
}

/** The list key of a queue at a priority (reference §3): the largest step <= priority. */
export function celeryQueueKey(queue: string, priority: number, transport: CeleryTransportOptions = DEFAULT_TRANSPORT): string {
  const clamped = Math.min(CELERY_PRIORITY_MAX, Math.max(CELERY_PRIORITY_MIN, priority));
  let step = 0;
  for (const candidate of transport.prioritySteps) if (candidate <= clamped) step = candidate;
  return step === 0 ? transport.keyPrefix + queue : transport.keyPrefix + queue + transport.prioritySep + step;
}

/** Builds and checks one message; throws CeleryMessageError instead of returning a bad one. */
export function buildCeleryMessage(input: CeleryMessageInput, transport: CeleryTransportOptions = DEFAULT_TRANSPORT): CeleryMessage {
  const inputProblem = celeryInputProblem(input);
  if (inputProblem) throw inputProblem;
  // Args and kwargs are serialized once, for the body and for their repr headers.
  const argsJson = JSON.stringify(input.args);
  const kwargsJson = JSON.stringify(input.kwargs);
  const bodyText = `[${argsJson},${kwargsJson},${CELERY_EMBED_JSON}]`;
  const envelope = {
    body: Buffer.from(bodyText, "utf8").toString("base64"),
    "content-type": "application/json",
    "content-encoding": "utf-8",
    headers: {
      lang: "py",
      task: input.task,
      id: input.id,
      shadow: null,
      eta: null,
      expires: input.expiresAtMs === null ? null : celeryExpiresHeader(input.expiresAtMs),
      group: null,
      group_index: null,
      retries: 0,
      timelimit: [null, null],
      root_id: input.id,
      parent_id: null,
      argsrepr: celeryReprBounded(argsJson),
      kwargsrepr: celeryReprBounded(kwargsJson),
      origin: input.origin,
      ignore_result: false,
    },
    properties: {
      correlation_id: input.id,
      delivery_mode: 2,
      delivery_info: { exchange: "", routing_key: input.queue },
      priority: Math.min(CELERY_PRIORITY_MAX, Math.max(CELERY_PRIORITY_MIN, input.priority)),
      body_encoding: "base64",
      delivery_tag: input.deliveryTag,
    },
  };
  // The object is checked, not its text parsed back: the body was built from the args and kwargs
  // checked above, and re-parsing doubled the cost of a message (a 50,000-task burst is pushed at once).
  const problem = celeryEnvelopeProblem(envelope, false);
  if (problem) throw problem;
  return { key: celeryQueueKey(input.queue, input.priority, transport), envelope: JSON.stringify(envelope) };
}

/** Celery's `expires` header for an epoch ms: ISO-8601 with an explicit offset, as Celery writes it. */
export function celeryExpiresHeader(expiresAtMs: number): string {
  return new Date(expiresAtMs).toISOString().replace("Z", "+00:00");
}

/** What is wrong with the input of a message, or null. The HTTP boundary checks the same rules. */
export function celeryInputProblem(input: CeleryMessageInput): CeleryMessageError | null {
  const name = celeryNameProblem(input.task);
  if (name) return new CeleryMessageError("task", name);
  const queue = celeryNameProblem(input.queue);
  if (queue) return new CeleryMessageError("queue", queue);
  if (!Number.isInteger(input.priority) || input.priority < CELERY_PRIORITY_MIN || input.priority > CELERY_PRIORITY_MAX) {
    return new CeleryMessageError("priority", `expected an integer from ${CELERY_PRIORITY_MIN} to ${CELERY_PRIORITY_MAX}`);
  }
  if (!Array.isArray(input.args)) return new CeleryMessageError("args", "expected a JSON array (the task's positional args)");
  if (!isPlainObject(input.kwargs)) return new CeleryMessageError("kwargs", "expected a JSON object (the task's keyword args)");
  if (typeof input.id !== "string" || input.id.length === 0) return new CeleryMessageError("id", "expected a non-empty task id");
  if (typeof input.deliveryTag !== "string" || input.deliveryTag.length === 0) {
    return new CeleryMessageError("deliveryTag", "expected a non-empty string");
  }
  if (input.expiresAtMs !== null && !Number.isFinite(input.expiresAtMs)) return new CeleryMessageError("expiresAt", "expected epoch ms");
  return null;
}

/**
 * Checks an envelope as the worker will read it (reference §2 and §8.1): every field whose
 * absence kills or poisons a worker, a base64 body of exactly [args array, kwargs object, embed],
 * and no eta. Returns null for a message that is safe to push.
 */
export function celeryMessageProblem(envelopeText: string): CeleryMessageError | null {
  let envelope: unknown;
  try {
    envelope = JSON.parse(envelopeText);
  } catch {
    return new CeleryMessageError("envelope", "is not JSON");
  }
  return celeryEnvelopeProblem(envelope, true);
}

/** celeryMessageProblem on a parsed envelope; `decodeBody` also checks the body's [args, kwargs, embed]. */
export function celeryEnvelopeProblem(envelope: unknown, decodeBody: boolean): CeleryMessageError | null {
  if (!isPlainObject(envelope)) return new CeleryMessageError("envelope", "expected a JSON object");
  if (envelope["content-type"] !== "application/json") return new CeleryMessageError("content-type", 'expected "application/json"');
  const properties = envelope.properties;
  if (!isPlainObject(properties)) return new CeleryMessageError("properties", "expected an object");
  if (typeof properties.delivery_tag !== "string" || properties.delivery_tag === "") {
    return new CeleryMessageError("properties.delivery_tag", "expected a non-empty string");
  }
  const info = properties.delivery_info;
  if (!isPlainObject(info)) return new CeleryMessageError("properties.delivery_info", "expected an object");
  // A non-empty exchange makes redelivery depend on a binding set that may not exist (§5).
  if (info.exchange !== "") return new CeleryMessageError("properties.delivery_info.exchange", 'expected ""');
  if (typeof info.routing_key !== "string" || celeryNameProblem(info.routing_key)) {
    return new CeleryMessageError("properties.delivery_info.routing_key", "expected the queue name");
  }
  if (properties.body_encoding !== "base64") return new CeleryMessageError("properties.body_encoding", 'expected "base64"');
  const headers = envelope.headers;
  if (!isPlainObject(headers)) return new CeleryMessageError("headers", "expected an object");
  if (typeof headers.task !== "string" || celeryNameProblem(headers.task)) return new CeleryMessageError("headers.task", "expected a task name");
  if (typeof headers.id !== "string" || headers.id === "") return new CeleryMessageError("headers.id", "expected a task id");
  if (headers.eta !== undefined && headers.eta !== null) return new CeleryMessageError("headers.eta", "must not be set");
  if (headers.expires !== undefined && headers.expires !== null && (typeof headers.expires !== "string" || Number.isNaN(Date.parse(headers.expires)))) {
    return new CeleryMessageError("headers.expires", "expected an ISO-8601 time or null");
  }
  if (typeof envelope.body !== "string" || envelope.body === "") return new CeleryMessageError("body", "expected base64 text");
  if (!decodeBody) return null;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(envelope.body, "base64").toString("utf8"));
  } catch {
    return new CeleryMessageError("body", "is not base64 of JSON");
  }
  if (!Array.isArray(body) || body.length !== 3) return new CeleryMessageError("body", "expected [args, kwargs, embed]");
  if (!Array.isArray(body[0])) return new CeleryMessageError("body.args", "expected an array");
  if (!isPlainObject(body[1])) return new CeleryMessageError("body.kwargs", "expected an object");
  if (body[2] !== null && !isPlainObject(body[2])) return new CeleryMessageError("body.embed", "expected an object or null");
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** argsrepr/kwargsrepr are for logs and Flower; a huge payload need not be repeated there. */
const MAX_REPR_LENGTH = 1024;

export function celeryReprBounded(json: string): string {
  return json.length <= MAX_REPR_LENGTH ? json : `${json.slice(0, MAX_REPR_LENGTH - 3)}...`;
}
