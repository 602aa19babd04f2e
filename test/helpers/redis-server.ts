// Real redis-server processes for tests: one per test file (or per test that kills, pauses or
// restarts Redis), each on a free loopback port in its own temporary directory. Never a mock.
//
// Every server runs under `setpriv --pdeathsig KILL`, so the kernel kills it when the test process
// dies or exits for any reason (even kill -9): no test leaves a redis-server behind. A registry
// also kills them on `process.on("exit")`, but note that Bun 1.4.5 does not emit "exit" at the end
// of `bun test` (checked), so there pdeathsig is what does it. Temp dirs of a test process that is
// gone are swept when this module loads (each holds its owner's pid), so they do not pile up.
//
// Servers are probed (PING, INFO, CLUSTER INFO) with the raw RESP client of the embedded server,
// so the helpers themselves do not depend on ioredis.

import type { Subprocess } from "bun";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort, redisCommand } from "../../src/node/embedded-redis.ts";
import { waitFor } from "./wait.ts";

const LOOPBACK = "127.0.0.1";
// Starting takes ~20–40 ms; loading a test's AOF a few ms more. Generous: CI machines are slow.
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
// A port found free by binding port 0 can be taken before redis-server binds it: pick another.
const PORT_ATTEMPTS = 5;
// A node of a local cluster is declared failed after this long without answering; 2 s keeps
// failover tests short while being well above scheduling hiccups of a busy test machine.
const CLUSTER_NODE_TIMEOUT_MS = 2_000;
const CLUSTER_READY_TIMEOUT_MS = 20_000;
const TEMP_DIR_PREFIX = "tickwheel-redis-";
const OWNER_FILE = "tickwheel-owner.pid";

export interface StartRedisOptions {
  appendonly?: boolean;
  appendfsync?: "always" | "everysec" | "no";
  /** Data directory (AOF, nodes.conf, redis.log); a fresh temp dir when omitted. */
  dir?: string;
  /** Fixed port; a free one when omitted. */
  port?: number;
}

export interface RedisProcess {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** redis-server's output, appended across restarts. */
  readonly logPath: string;
  /** pid of the current process (changes on restart). */
  readonly pid: number;
  /** SIGKILL: no AOF flush beyond what `appendfsync` already wrote. */
  kill9(): Promise<void>;
  /** SIGTERM, wait for exit; SIGKILL if it is still running after a deadline. */
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** Stops it if running, starts it again on the same port and dir (reloading the AOF). */
  restart(): Promise<void>;
  /** Kills it and removes its dir when the helper created it (a `dir` you passed is kept). */
  cleanup(): Promise<void>;
}

export interface RedisClusterNode {
  host: string;
  port: number;
}

export interface RedisClusterProcess {
  nodes: RedisClusterNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  seeds: string;
  /** The masters' processes, for fault tests. */
  servers: RedisProcess[];
  stopAll(): Promise<void>;
  cleanup(): Promise<void>;
}

class PortInUseError extends Error {}

/** Every server not yet cleaned up, running or not (its temp dir still exists). */
const registry = new Set<ManagedRedis>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const server of registry) server.killAndForgetSync();
  });
}

class ManagedRedis implements RedisProcess {
  readonly url: string;
  readonly logPath: string;
  private proc: Subprocess | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly extraArgs: readonly string[],
  ) {
    this.url = `redis://${LOOPBACK}:${port}`;
    this.logPath = join(dir, "redis.log");
  }

  get pid(): number {
    if (this.proc === undefined) throw new Error(`redis-server on port ${this.port} was never started`);
    return this.proc.pid;
  }

  private isRunning(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Spawns redis-server and waits until it answers PING and has loaded its data. */
  async launch(): Promise<void> {
    const args = [
      "redis-server",
      "--port", String(this.port),
      "--bind", LOOPBACK,
      "--dir", this.dir,
      "--save", "",
      "--daemonize", "no",
      "--protected-mode", "no",
      ...this.extraArgs,
    ];
    const logOffset = existsSync(this.logPath) ? statSync(this.logPath).size : 0;
    const logFd = openSync(this.logPath, "a");
    try {
      this.proc = Bun.spawn(["setpriv", "--pdeathsig", "KILL", ...args], {
        stdin: "ignore",
        stdout: logFd,
        stderr: logFd,
      });
    } finally {
      closeSync(logFd);
    }
    installExitHook();
    const proc = this.proc;
    // waitFor treats a throwing check as "not yet", so an early exit is recorded and ends the wait.
    let exitFailure: Error | undefined;
    try {
      await waitFor(
        async () => {
          if (proc.exitCode !== null || proc.signalCode !== null) {
            const output = await readLogFrom(this.logPath, logOffset);
            const reason = `redis-server on port ${this.port} exited (${proc.exitCode ?? proc.signalCode}):\n${output}`;
            exitFailure = /address already in use/i.test(output) ? new PortInUseError(reason) : new Error(reason);
            return true;
          }
          if ((await redisCommand(this.port, ["PING"], { timeoutMs: 500 })) !== "PONG") return false;
          const persistence = await redisCommand(this.port, ["INFO", "persistence"], { timeoutMs: 500 });
          return typeof persistence === "string" && /^loading:0\r?$/m.test(persistence);
        },
        { timeoutMs: READY_TIMEOUT_MS, intervalMs: 10, message: `redis-server on port ${this.port} ready (log: ${this.logPath})` },
      );
    } catch (error) {
      await this.kill9();
      throw error;
    }
    if (exitFailure !== undefined) throw exitFailure;
    // A running server must not keep a finished test or script alive: it dies with this process
    // (exit hook, pdeathsig). kill9/stop take the reference back while they wait for the exit.
    proc.unref();
  }

  async kill9(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined) return;
    proc.ref();
    if (this.isRunning()) proc.kill("SIGKILL");
    await proc.exited;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined) return;
    proc.ref();
    if (this.isRunning()) {
      proc.kill("SIGTERM");
      // A paused (SIGSTOPped) server would hold the SIGTERM until resumed.
      proc.kill("SIGCONT");
      const timedOut = await Promise.race([
        proc.exited.then(() => false),
        Bun.sleep(STOP_TIMEOUT_MS).then(() => true),
      ]);
      if (timedOut) proc.kill("SIGKILL");
    }
    await proc.exited;
  }

  pause(): void {
    if (this.isRunning()) this.proc?.kill("SIGSTOP");
  }

  resume(): void {
    if (this.isRunning()) this.proc?.kill("SIGCONT");
  }

  async restart(): Promise<void> {
    await this.stop();
    // The port was ours a moment ago; only a rare race with another process takes it.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch();
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
        await Bun.sleep(100);
      }
    }
  }

  async cleanup(): Promise<void> {
    await this.kill9();
    registry.delete(this);
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  /** For the exit hook: no awaiting possible there. */
  killAndForgetSync(): void {
    try {
      if (this.isRunning()) this.proc?.kill("SIGKILL");
    } catch {
      // already gone
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  const extraArgs = ["--appendonly", opts.appendonly ? "yes" : "no"];
  if (opts.appendfsync !== undefined) extraArgs.push("--appendfsync", opts.appendfsync);
  return startServer(extraArgs, opts.dir, opts.port);
}

async function startServer(extraArgs: readonly string[], dir?: string, port?: number): Promise<ManagedRedis> {
  const ownsDir = dir === undefined;
  const serverDir = dir ?? (await makeOwnedTempDir());
  try {
    for (let attempt = 1; ; attempt++) {
      const server = new ManagedRedis(port ?? (await findFreePort()), serverDir, ownsDir, extraArgs);
      registry.add(server);
      try {
        await server.launch();
        return server;
      } catch (error) {
        registry.delete(server);
        const retry = error instanceof PortInUseError && port === undefined && attempt < PORT_ATTEMPTS;
        if (!retry) throw error;
      }
    }
  } catch (error) {
    if (ownsDir) await rm(serverDir, { recursive: true, force: true });
    throw error;
  }
}

export async function startRedisCluster(opts: { masters?: 3 } = {}): Promise<RedisClusterProcess> {
  const masters = opts.masters ?? 3;
  const clusterArgs = [
    "--appendonly", "no",
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", String(CLUSTER_NODE_TIMEOUT_MS),
  ];
  const servers: ManagedRedis[] = [];
  const cleanup = async () => {
    await Promise.all(servers.map((server) => server.cleanup()));
  };
  try {
    for (let i = 0; i < masters; i++) servers.push(await startServer(clusterArgs));
    const addresses = servers.map((server) => `${LOOPBACK}:${server.port}`);
    const create = Bun.spawn(
      ["redis-cli", "--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const [output, errors, exitCode] = await Promise.all([
      new Response(create.stdout).text(),
      new Response(create.stderr).text(),
      create.exited,
    ]);
    if (exitCode !== 0) {
      throw new Error(`redis-cli --cluster create failed (exit ${exitCode}):\n${output}\n${errors}`);
    }
    await waitFor(
      async () => {
        const infos = await Promise.all(
          servers.map((server) => redisCommand(server.port, ["CLUSTER", "INFO"], { timeoutMs: 500 })),
        );
        return infos.every((info) => typeof info === "string" && /^cluster_state:ok\r?$/m.test(info));
      },
      { timeoutMs: CLUSTER_READY_TIMEOUT_MS, intervalMs: 50, message: `cluster_state:ok on ${addresses.join(", ")}` },
    );
    return {
      nodes: servers.map((server) => ({ host: LOOPBACK, port: server.port })),
      seeds: addresses.join(","),
      servers,
      stopAll: async () => {
        await Promise.all(servers.map((server) => server.stop()));
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Kills every server this process started and removes their temp dirs (e.g. for a preload's afterAll). */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...registry].map((server) => server.cleanup()));
}

async function makeOwnedTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), TEMP_DIR_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

/** Removes temp dirs left by test processes that no longer exist (their servers died with them). */
function sweepStaleTempDirs(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((name) => name.startsWith(TEMP_DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of entries) {
    const dir = join(tmpdir(), name);
    try {
      // No owner file yet: a live process is between mkdtemp and writing it. Leave it.
      const ownerPid = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
      if (Number.isInteger(ownerPid) && ownerPid > 0 && !processExists(ownerPid)) {
        rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // unreadable or removed concurrently: not ours to worry about
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

sweepStaleTempDirs();

async function readLogFrom(path: string, offset: number): Promise<string> {
  try {
    return (await Bun.file(path).slice(offset).text()).trimEnd().split("\n").slice(-15).join("\n");
  } catch {
    return "";
  }
}
