/**
 * The Celery broker and result backend, as tickwheel sees them: Redis
 * servers that may not be tickwheel's own (TICKWHEEL_CELERY_BROKER_URL,
 * TICKWHEEL_CELERY_RESULT_URL). Like every Redis access, they live in the
 * store: the Celery target asks for pushes and result reads in these intents.
 *
 * - pushMany: LPUSH built messages (src/pool/targets/celery/message.ts)
 *   onto a queue list, many values per command (the target coalesces a
 *   burst's messages: push-batcher.ts); messages made from one template
 *   go as the template and their values, joined on the broker by
 *   celery-push-1.lua into the same text.
 * - runId: the server's run_id, by which the node tells whether the broker is
 *   the very server tickwheel's data lives on (then a hand-off is one script:
 *   celery-handoff.lua).
 * - resultOf: Celery's stored result of a task id (`celery-task-meta-<id>`),
 *   or PENDING when there is none (yet, or any more: results expire).
 *
 * Commands fail fast while a server is unreachable (connection.ts): the
 * Celery target turns that into a retry of the push, so a broker that is down
 * at the due time makes the task late, never lost.
 */
import type Redis from "ioredis";
import { openConnection, type Connection } from "./connection.ts";
import { commandName, defineScripts } from "./scripts.ts";
import { joinParts, type CeleryEnvelopeParts } from "./celery-envelope.ts";

/** How long a push may wait for the broker's answer: far above a loaded broker's, far below forever. */
const PUSH_TIMEOUT_MS = 10_000;

/**
 * A broker that refuses scripts (an ACL without @scripting, EVAL renamed away) answers this: it is
 * then sent whole envelopes, which need nothing but LPUSH.
 */
const SCRIPTS_REFUSED = /^NOPERM|unknown command|command not allowed/i;

/** Celery's result key prefix (celery.backends.base.KeyValueStoreBackend.task_keyprefix). */
const RESULT_KEY_PREFIX = "celery-task-meta-";

export interface CeleryResult {
  /** PENDING (nothing stored), STARTED, SUCCESS, FAILURE, RETRY, REVOKED, … as Celery writes it. */
  state: string;
  result?: unknown;
  traceback?: string;
  /** Celery's date_done (naive UTC, as Celery writes it). */
  dateDone?: string;
  /** Why the state is UNKNOWN (the result backend could not be read). */
  error?: string;
}

export class CeleryBroker {
  readonly connection: Connection;
  /** The broker's database index (from the URL's path; 0 when absent), for the same-server hand-off. */
  readonly db: number;
  /** False once the broker refused the push script: messages then go whole. */
  private scripts = true;

  constructor(readonly url: string, onError?: (error: Error) => void) {
    this.db = databaseOf(url);
    this.connection = openConnection({ redisUrl: url }, "tickwheel-celery-broker");
    // A broker that accepts the connection but answers nothing (stopped, overloaded) must not hold
    // pushes, and their pool slots, forever: the push fails and the task waits for the next try.
    (this.connection as Redis).options.commandTimeout = PUSH_TIMEOUT_MS;
    if (onError) this.connection.on("error", onError);
    defineScripts(this.connection);
  }

  /**
   * LPUSHes messages onto one list, in order (LPUSH: workers BRPOP, so each list is FIFO), written
   * to the socket now rather than with the next automatic pipeline. The messages are all whole, or
   * all parts of one template (push-batcher.ts groups them so): then the broker joins them.
   */
  async pushMany(key: string, envelopes: readonly (string | CeleryEnvelopeParts)[]): Promise<void> {
    const first = envelopes[0];
    if (first === undefined) return;
    if (typeof first === "string" || !this.scripts) {
      const whole = envelopes.map((envelope) => (typeof envelope === "string" ? envelope : joinParts(envelope)));
      return this.exec(this.connection.pipeline().lpush(key, ...whole));
    }
    const packed: string[] = new Array(envelopes.length * 5);
    let p = 0;
    for (const envelope of envelopes as CeleryEnvelopeParts[]) {
      packed[p++] = envelope.body;
      packed[p++] = envelope.idJson;
      packed[p++] = envelope.expiresJson;
      packed[p++] = envelope.argsreprJson;
      packed[p++] = envelope.deliveryTag;
    }
    const pipeline = this.connection.pipeline();
    const push = (pipeline as unknown as Record<string, (...args: (string | number)[]) => unknown>)[`${commandName("celeryPush")}Buffer`]!;
    push.call(pipeline, key, first.template.packedPieces, envelopes.length, packed.join("\0"));
    try {
      await this.exec(pipeline);
    } catch (error) {
      if (!(error instanceof Error) || !SCRIPTS_REFUSED.test(error.message)) throw error;
      // Nothing was pushed (the script never ran): the same messages go whole, now and from now on.
      this.scripts = false;
      await this.pushMany(key, envelopes);
    }
  }

  private async exec(pipeline: ReturnType<Connection["pipeline"]>): Promise<void> {
    const results = await pipeline.exec();
    const error = results?.[0]?.[0];
    if (error) throw error;
  }

  async runId(): Promise<string> {
    return runIdOf(this.connection);
  }

  async close(): Promise<void> {
    await closeQuietly(this.connection);
  }
}

export class CeleryResults {
  readonly connection: Connection;

  constructor(readonly url: string, onError?: (error: Error) => void) {
    this.connection = openConnection({ redisUrl: url }, "tickwheel-celery-results");
    if (onError) this.connection.on("error", onError);
  }

  async resultOf(taskId: string): Promise<CeleryResult> {
    const text = await this.connection.get(RESULT_KEY_PREFIX + taskId);
    if (text === null) return { state: "PENDING" };
    let meta: { status?: unknown; result?: unknown; traceback?: unknown; date_done?: unknown };
    try {
      meta = JSON.parse(text);
    } catch {
      // A result serializer other than JSON (pickle, msgpack): the state is all we could say, and we cannot.
      return { state: "UNKNOWN" };
    }
    const view: CeleryResult = { state: typeof meta.status === "string" ? meta.status : "UNKNOWN" };
    if (meta.result !== undefined && meta.result !== null) view.result = meta.result;
    if (typeof meta.traceback === "string") view.traceback = meta.traceback;
    if (typeof meta.date_done === "string") view.dateDone = meta.date_done;
    return view;
  }

  async close(): Promise<void> {
    await closeQuietly(this.connection);
  }
}

/** The run_id of the server behind a connection: equal run_ids are one server process. */
export async function runIdOf(connection: Connection): Promise<string> {
  const info = String(await connection.info("server"));
  const runId = /^run_id:(\w+)/m.exec(info)?.[1];
  if (!runId) throw new Error("INFO server has no run_id");
  return runId;
}

/** The database index a redis:// URL names (`/3`), 0 when it names none. */
export function databaseOf(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, "");
  if (path === "") return 0;
  const db = Number(path);
  if (!Number.isInteger(db) || db < 0) throw new Error(`expected a database number in the path of ${url}`);
  return db;
}

async function closeQuietly(connection: Connection): Promise<void> {
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
