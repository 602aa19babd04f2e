// A real Celery worker for tests: Debian's /usr/bin/python3 -m celery running the fixture app
// (test/fixtures/celery/tw_celery_app.py) against a test's own redis-server. The `python3` first
// on PATH may be another interpreter without Celery, so the path is fixed.
//
// The worker runs under `setpriv --pdeathsig KILL` (like the helpers' redis-servers), so it dies
// with the test process; `stop()` ends it by its pid. `--pool solo` keeps it to one process on a
// shared 2-core machine, and no gossip/mingle/heartbeat keeps it off the broker's pub/sub.
import type { Subprocess } from "bun";
import { join } from "node:path";
import { waitFor } from "./wait.ts";

export const SYSTEM_PYTHON = "/usr/bin/python3";
export const CELERY_FIXTURE_DIR = join(import.meta.dir, "..", "fixtures", "celery");
/** The list on the result backend where the fixture app records every run. */
export const FIXTURE_RUNS_KEY = "tw-fixture:runs";

export interface CeleryWorkerOptions {
  /** e.g. redis://127.0.0.1:1234/0 */
  brokerUrl: string;
  /** e.g. redis://127.0.0.1:1234/1 */
  resultUrl: string;
  /** Queues to consume (`-Q`); default ["celery"]. */
  queues?: string[];
  /** The app module (`-A`) and the folder it is imported from; default the fixture app. */
  app?: string;
  cwd?: string;
}

export interface CeleryWorker {
  readonly pid: number;
  output(): string;
  /** SIGTERM (warm shutdown), then SIGKILL after a deadline. */
  stop(): Promise<void>;
}

export async function startCeleryWorker(options: CeleryWorkerOptions): Promise<CeleryWorker> {
  const queues = options.queues ?? ["celery"];
  const proc: Subprocess = Bun.spawn(
    [
      "setpriv", "--pdeathsig", "KILL",
      SYSTEM_PYTHON, "-m", "celery", "-A", options.app ?? "tw_celery_app", "worker",
      "-Q", queues.join(","),
      "--pool", "solo",
      "--loglevel", "info",
      "--without-gossip", "--without-mingle", "--without-heartbeat",
      "--hostname", `tw-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`,
    ],
    {
      cwd: options.cwd ?? CELERY_FIXTURE_DIR,
      // Both spellings: the fixture app reads TW_*, the migration guides' example app CELERY_*.
      env: {
        ...process.env,
        TW_CELERY_BROKER_URL: options.brokerUrl,
        TW_CELERY_RESULT_URL: options.resultUrl,
        CELERY_BROKER_URL: options.brokerUrl,
        CELERY_RESULT_BACKEND: options.resultUrl,
        PYTHONDONTWRITEBYTECODE: "1",
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timedOut = await Promise.race([proc.exited.then(() => false), Bun.sleep(10_000).then(() => true)]);
      if (timedOut) proc.kill("SIGKILL");
    }
    await proc.exited;
  };
  try {
    // Importing Celery takes ~1 s on an idle machine; much longer on a loaded one.
    await waitFor(() => / ready\.\s*$/m.test(text) || proc.exitCode !== null, { timeoutMs: 60_000, intervalMs: 50, message: "celery worker ready" });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- worker output ---\n${text}`);
  }
  if (proc.exitCode !== null) throw new Error(`celery worker exited with ${proc.exitCode}\n--- worker output ---\n${text}`);
  return { pid: proc.pid, output: () => text, stop };
}
