// Nodes for tests: in-process (fast, for engine behaviour) or as a real `bun src/main.ts`
// subprocess (for kill -9, SIGSTOP and the binary). Each test gets its own key prefix.
import type { Subprocess } from "bun";
import { join } from "node:path";
import { loadConfig } from "../../src/config/config.ts";
import { TickwheelNode } from "../../src/node/node.ts";
import { startServedNode } from "../../src/node/serve-node.ts";
import { silentLogger, createLogger } from "../../src/core/log.ts";
import { waitFor } from "./wait.ts";

export const ROOT = join(import.meta.dir, "..", "..");

export function randomPrefix(name = "t"): string {
  return `${name}${Math.random().toString(36).slice(2, 8)}`;
}

export interface TestNodeOptions {
  redisUrl?: string;
  clusterNodes?: string;
  prefix: string;
  env?: Record<string, string>;
}

function nodeEnv(options: TestNodeOptions): Record<string, string> {
  const env: Record<string, string> = {
    PORT: "0",
    TICKWHEEL_PREFIX: options.prefix,
    TICKWHEEL_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    TICKWHEEL_SHARDS: "4",
    // Lets the suite run at another claim depth (TICKWHEEL_CLAIM_DEPTH=4 bun test …), like spawned nodes.
    ...(process.env.TICKWHEEL_CLAIM_DEPTH ? { TICKWHEEL_CLAIM_DEPTH: process.env.TICKWHEEL_CLAIM_DEPTH } : {}),
    ...options.env,
  };
  if (options.redisUrl) env.REDIS_URL = options.redisUrl;
  if (options.clusterNodes) env.REDIS_CLUSTER_NODES = options.clusterNodes;
  return env;
}

/** A node inside the test process; tasks defined with defineTask in the test are its handlers. */
export async function startInProcessNode(options: TestNodeOptions): Promise<TickwheelNode> {
  const config = loadConfig(nodeEnv(options));
  const log = process.env.TEST_LOG_LEVEL ? createLogger(process.env.TEST_LOG_LEVEL) : silentLogger();
  const node = new TickwheelNode(config, log);
  await startServedNode(node);
  return node;
}

export interface NodeProcess {
  proc: Subprocess;
  url: string;
  nodeId: string;
  output(): string;
  kill9(): void;
  pause(): void;
  resume(): void;
  terminate(): Promise<number>;
}

/** A real node process (`bun src/main.ts`); resolves once it serves HTTP. */
export async function startNodeProcess(
  options: TestNodeOptions & { tasksModule?: string; nodeId?: string; command?: string[] },
): Promise<NodeProcess> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...nodeEnv(options),
    TICKWHEEL_LOG_LEVEL: options.env?.TICKWHEEL_LOG_LEVEL ?? process.env.TEST_LOG_LEVEL ?? "warn",
  };
  if (options.tasksModule) env.TICKWHEEL_TASKS = options.tasksModule;
  if (options.nodeId) env.TICKWHEEL_NODE_ID = options.nodeId;
  const proc = Bun.spawn(options.command ?? ["bun", join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  let url = "";
  let nodeId = "";
  await waitFor(
    () => {
      const match = /tickwheel node (\S+) listening on (http:\/\/\S+)/.exec(text);
      if (match) {
        nodeId = match[1]!;
        url = match[2]!;
      }
      return url !== "" || proc.exitCode !== null;
    },
    { timeoutMs: 20_000, message: "node process to listen" },
  ).catch((error) => {
    proc.kill(9);
    throw new Error(`${(error as Error).message}\n--- node output ---\n${text}`);
  });
  if (!url) throw new Error(`node exited with code ${proc.exitCode} before listening\n--- node output ---\n${text}`);
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return {
    proc,
    url,
    nodeId,
    output: () => text,
    kill9: () => proc.kill(9),
    pause: () => proc.kill("SIGSTOP"),
    resume: () => proc.kill("SIGCONT"),
    terminate: async () => {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
  };
}

const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const proc of running) {
    try {
      proc.kill(9);
    } catch {}
  }
});
