/**
 * Final records (finished tasks) live in one expiring hash per expiry slot
 * (lua/lib/finals.lua). The node builds final records and sorts them into
 * slots itself; finalsSlotExpiry is the twin of finals_expiry in that file,
 * which cancel uses, and the two must agree.
 */

/**
 * Expiry ms of the slot hash that keeps a record finished at `atMs` for
 * `ttlMs`: a slot is 1/16 of the ttl rounded down to a power of two (at
 * least 1,024 ms), so a record stays readable for at least its ttl and at
 * most 1/16 longer.
 */
export function finalsSlotExpiry(atMs: number, ttlMs: number): number {
  let width = 1024;
  while (width * 2 <= ttlMs / 16) width *= 2;
  return Math.ceil((atMs + ttlMs) / width) * width;
}
