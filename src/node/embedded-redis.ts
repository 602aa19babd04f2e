// Embedded redis-server for `bun start` without REDIS_URL: a single-node setup that works out of
// the box and still keeps every scheduled task durable (AOF, fsync every second) in a data
// directory, so stopping and starting the node loses nothing that was acknowledged a second ago.
//
// The server runs under `setpriv --pdeathsig KILL`, so the kernel kills it when this process dies,
// even by kill -9: no orphaned redis-server keeps the port and the AOF file busy.
//
// This file must not import ioredis (only the store may). It reaches the server with a tiny RESP
// client over a raw socket (`redisCommand`), which the test helpers reuse to probe their servers.

import type { Subprocess } from "bun";
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export interface EmbeddedRedis {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  pid: number;
  port: number;
  /** SIGTERM (redis-server flushes the AOF) and wait for the process to exit. Idempotent. */
  stop(): Promise<void>;
}

interface EmbeddedRedisOptions {
  /** Holds the AOF and redis.log; created when missing. */
  dataDir: string;
  log: (msg: string) => void;
}

const LOOPBACK = "127.0.0.1";
// redis-server is usually answering within ~40 ms; an AOF of a few hundred MB takes seconds to
// load, and PING answers only once loading is done.
const READY_TIMEOUT_MS = 10_000;
// A graceful shutdown rewrites nothing (no RDB save: --save ""), it only fsyncs the AOF.
const STOP_TIMEOUT_MS = 10_000;
// A free port found by binding port 0 can be taken by someone else before redis-server binds it.
const PORT_ATTEMPTS = 5;

export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(dataDir, "redis.log");
  if (Bun.which("redis-server") === null) {
    throw new Error("redis-server not found: run bash scripts/start.sh or install redis-server");
  }
  const useSetpriv = Bun.which("setpriv") !== null;
  if (!useSetpriv) {
    opts.log("setpriv not found (util-linux): redis-server may outlive this process if it is killed");
  }

  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    const args = [
      "redis-server",
      "--port", String(port),
      "--bind", LOOPBACK,
      "--dir", dataDir,
      "--appendonly", "yes",
      "--appendfsync", "everysec",
      "--save", "",
      "--daemonize", "no",
    ];
    // The log is appended to across starts; remember where this start's lines begin.
    const logOffset = existsSync(logPath) ? statSync(logPath).size : 0;
    const logFd = openSync(logPath, "a");
    let child: Subprocess;
    try {
      child = Bun.spawn(useSetpriv ? ["setpriv", "--pdeathsig", "KILL", ...args] : args, {
        stdin: "ignore",
        stdout: logFd,
        stderr: logFd,
      });
    } finally {
      closeSync(logFd);
    }
    const outcome = await waitUntilReady(port, child.exited, READY_TIMEOUT_MS);
    if (outcome === "ready") {
      opts.log(`embedded redis-server ready: data dir ${dataDir}, port ${port}, pid ${child.pid}, log ${logPath}`);
      const proc = child;
      return {
        url: `redis://${LOOPBACK}:${port}`,
        pid: proc.pid,
        port,
        stop: () => stopProcess(proc, STOP_TIMEOUT_MS),
      };
    }
    if (outcome === "timeout") {
      child.kill("SIGKILL");
      await child.exited;
      throw new Error(
        `embedded redis-server (port ${port}) did not answer PING within ${READY_TIMEOUT_MS} ms; see ${logPath}`,
      );
    }
    const tail = await readLogFrom(logPath, logOffset);
    if (attempt < PORT_ATTEMPTS && /address already in use/i.test(tail)) continue;
    throw new Error(
      `embedded redis-server exited with code ${outcome.exitCode} before it was ready; see ${logPath}:\n${tail}`,
    );
  }
}

/** A loopback TCP port that was free a moment ago (bind port 0, read it, close). */
export async function findFreePort(): Promise<number> {
  const listener = Bun.listen({ hostname: LOOPBACK, port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

type RedisReply = string | number | null | RedisReplyError | RedisReply[];

/** An error reply (`-ERR …`, `-LOADING …`) returned as a value, not thrown. */
class RedisReplyError {
  constructor(readonly message: string) {}
}

/**
 * Sends one command on a fresh connection and returns its reply. For probes (PING, INFO,
 * CLUSTER INFO), not for traffic: the store talks to Redis through ioredis.
 * Rejects when the connection fails, closes early or no reply arrives within `timeoutMs`.
 */
export async function redisCommand(
  port: number,
  args: readonly string[],
  { host = LOOPBACK, timeoutMs = 1_000 }: { host?: string; timeoutMs?: number } = {},
): Promise<RedisReply> {
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
  return new Promise<RedisReply>((resolvePromise, reject) => {
    let received = Buffer.alloc(0);
    let settled = false;
    let socketRef: { end(): void } | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socketRef?.end();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error(`no reply to ${args[0]} from ${host}:${port} within ${timeoutMs} ms`))),
      timeoutMs,
    );
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(socket) {
          socketRef = socket;
          if (settled) socket.end();
          else socket.write(request);
        },
        data(_socket, chunk) {
          received = Buffer.concat([received, chunk]);
          const parsed = parseReply(received, 0);
          if (parsed !== undefined) finish(() => resolvePromise(parsed.value));
        },
        close() {
          finish(() => reject(new Error(`connection to ${host}:${port} closed before a reply to ${args[0]}`)));
        },
        error(_socket, error) {
          finish(() => reject(error));
        },
        connectError(_socket, error) {
          finish(() => reject(error));
        },
      },
    }).catch((error: unknown) => finish(() => reject(error)));
  });
}

/** Parses one RESP2 reply at `offset`; undefined while the buffer holds only part of it. */
function parseReply(buffer: Buffer, offset: number): { value: RedisReply; end: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new RedisReplyError(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RedisReply[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, cursor);
        if (item === undefined) return undefined;
        items.push(item.value);
        cursor = item.end;
      }
      return { value: items, end: cursor };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

type ReadyOutcome = "ready" | "timeout" | { exitCode: number | null };

async function waitUntilReady(port: number, exited: Promise<number>, timeoutMs: number): Promise<ReadyOutcome> {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exitCode !== undefined) return { exitCode };
    try {
      if ((await redisCommand(port, ["PING"], { timeoutMs: 500 })) === "PONG") return "ready";
    } catch {
      // not listening yet
    }
    await Bun.sleep(10);
  }
  return exitCode !== undefined ? { exitCode } : "timeout";
}

async function stopProcess(proc: Subprocess, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timedOut = await Promise.race([proc.exited.then(() => false), Bun.sleep(timeoutMs).then(() => true)]);
  if (timedOut) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

/** The last lines written to the log since `offset` (what this start printed before it died). */
async function readLogFrom(path: string, offset: number): Promise<string> {
  try {
    return (await Bun.file(path).slice(offset).text()).trimEnd().split("\n").slice(-15).join("\n");
  } catch {
    return "";
  }
}
