/**
 * Retry delay after a failed attempt: exponential backoff with "full jitter" (a uniform draw in
 * [0, cap]). Full jitter spreads the retries of tasks that failed together (a target that went
 * down for everyone) instead of bringing them back in synchronized waves. Pure: `random` is
 * injected so tests pin the draw.
 */

export interface BackoffOptions {
  /** Cap after the first failed attempt. */
  baseMs: number;
  /** Cap that the exponential growth stops at. */
  maxMs: number;
}

// 2^52 already exceeds any sensible maxMs for any baseMs >= 1; a larger exponent only risks
// Infinity (and NaN when baseMs is 0).
const MAX_EXPONENT = 52;

/**
 * Integer delay in ms, uniform in [0, min(maxMs, baseMs * 2^(attempt - 1))]. `attempt` is
 * 1-based: the number of the attempt that just failed.
 */
export function backoffDelayMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  }
  for (const field of ["baseMs", "maxMs"] as const) {
    const value = opts[field];
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`${field} must be a finite number >= 0, got ${value}`);
    }
  }
  const exponent = Math.min(attempt - 1, MAX_EXPONENT);
  const capMs = Math.floor(Math.min(opts.maxMs, opts.baseMs * 2 ** exponent));
  // floor(r * (cap + 1)) makes every integer in [0, cap] equally likely; the min guards an
  // injected random that returns 1.
  return Math.min(capMs, Math.floor(random() * (capMs + 1)));
}
