// Polling for tests that wait on real processes (a redis-server coming up, a node taking a shard):
// check a condition until it holds or a deadline passes, and fail with a message that says what
// was being waited for rather than a bare test timeout.

export interface WaitForOptions {
  /** Give up after this long (wall time since the call). */
  timeoutMs?: number;
  /** Pause between checks. */
  intervalMs?: number;
  /** What was awaited; the thrown error starts with it. */
  message?: string;
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 5_000, intervalMs = 20, message = "condition" }: WaitForOptions = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      // A check that throws (e.g. connection refused while a server starts) counts as "not yet".
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message}${cause}`);
    }
    await Bun.sleep(intervalMs);
  }
}
