/**
 * The id of a schedule's occurrence: `<schedule name>@<occurrence time, ISO UTC>~<6 octal digits>`,
 * e.g. `nightly-report@2027-03-28T01:00:00.000Z~417360`. Derived from the name and the time only,
 * so two nodes (or one node twice) that plant the same occurrence write the same id, and the
 * task id's idempotency turns the second write into nothing: the id itself prevents doubles.
 *
 * The occurrence must live on its schedule's shard, because the script that plants it also moves
 * the schedule's cursor (one script, one shard, one Redis Cluster slot). A task's shard is the
 * hash slot of its id, so the id has to hash to the slot of the schedule's name. A Redis hash tag
 * (`{name}@…`) would do that, but `{` and `}` must be percent-encoded in a URL and curl treats
 * them as a glob: `GET /v1/tasks/<id>` should work as typed. So the 6 trailing digits are chosen
 * to make the whole id's CRC16 land on the name's slot instead.
 *
 * Why that is exact and cheap: CRC16/XMODEM (initial value 0, no final xor) is linear over GF(2)
 * for messages of one length, and leading zero bytes do not change it. With the suffix bytes
 * written as 0x30 xor n_i (the digits '0'..'7', n_i of 3 bits each):
 *   crc(prefix ‖ suffix) = crc(prefix ‖ "000000") xor crc(n_1 … n_6)
 * and crc(n_1 … n_6) is a linear map of the 18 bits n. Its low 14 bits (the slot) have rank 14
 * (with five digits, 15 bits, the rank is only 13: hence six), so every slot can be reached. The
 * preimages of the 14 unit vectors are found once below by Gaussian elimination, and solving is
 * an xor of at most 14 of them (~2 µs per id).
 */
import { keySlot, SLOT_COUNT } from "../core/slot.ts";

const SUFFIX_DIGITS = 6;
const BITS_PER_DIGIT = 3;
const UNKNOWN_BITS = SUFFIX_DIGITS * BITS_PER_DIGIT; // 18
const SLOT_BITS = 14; // SLOT_COUNT = 2^14

/** Schedule names: they appear in URL paths and occurrence ids (no braces: they would be a hash tag). */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const SCHEDULE_NAME_RULE = "1-128 characters: letters, digits, '.', '_', ':', '-', starting with a letter or digit";

const OCCURRENCE_PATTERN = /^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})@(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)~([0-7]{6})$/;

function crc16(bytes: ArrayLike<number>): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]! << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The suffix bytes n_1 … n_6 (values 0..7) of an 18-bit vector, first digit highest. */
function digitsOf(vector: number): number[] {
  const digits: number[] = [];
  for (let i = SUFFIX_DIGITS - 1; i >= 0; i--) digits.push((vector >> (i * BITS_PER_DIGIT)) & 7);
  return digits;
}

/** PREIMAGES[b]: an 18-bit vector whose digits' CRC has low 14 bits equal to 1 << b. */
const PREIMAGES: number[] = (() => {
  // Rows: [image (14 bits), preimage (18 bits)], reduced to one row per pivot bit.
  const rows: { image: number; preimage: number }[] = [];
  for (let j = 0; j < UNKNOWN_BITS; j++) rows.push({ image: crc16(digitsOf(1 << j)) & (SLOT_COUNT - 1), preimage: 1 << j });
  const pivots: ({ image: number; preimage: number } | undefined)[] = new Array(SLOT_BITS);
  for (const row of rows) {
    let { image, preimage } = row;
    for (let b = SLOT_BITS - 1; b >= 0; b--) {
      if (!(image & (1 << b))) continue;
      const pivot = pivots[b];
      if (!pivot) {
        pivots[b] = { image, preimage };
        break;
      }
      image ^= pivot.image;
      preimage ^= pivot.preimage;
    }
  }
  // Back-substitute so each pivot row's image is exactly its unit vector.
  for (let b = 0; b < SLOT_BITS; b++) {
    const pivot = pivots[b];
    if (!pivot) throw new Error(`occurrence ids: the suffix cannot reach slot bit ${b}`);
    for (let lower = b - 1; lower >= 0; lower--) {
      if (pivot.image & (1 << lower)) {
        pivot.image ^= pivots[lower]!.image;
        pivot.preimage ^= pivots[lower]!.preimage;
      }
    }
  }
  return pivots.map((pivot) => pivot!.preimage);
})();

/** The id of the occurrence of schedule `name` at `atMs` (epoch ms). Pure and deterministic. */
export function occurrenceId(name: string, atMs: number): string {
  const prefix = `${name}@${new Date(atMs).toISOString()}~`;
  const wanted = keySlot(name);
  const base = keySlot(prefix + "000000");
  const difference = wanted ^ base;
  let vector = 0;
  for (let b = 0; b < SLOT_BITS; b++) if (difference & (1 << b)) vector ^= PREIMAGES[b]!;
  let suffix = "";
  for (const digit of digitsOf(vector)) suffix += String(digit);
  return prefix + suffix;
}

export interface OccurrenceRef {
  schedule: string;
  atMs: number;
}

/**
 * The schedule and time an occurrence id names, or null for any other id. An ordinary task id
 * that merely looks like one (same shape, but its digits do not put it on the name's slot) is
 * not taken for an occurrence.
 */
export function parseOccurrenceId(id: string): OccurrenceRef | null {
  const match = OCCURRENCE_PATTERN.exec(id);
  if (!match) return null;
  const atMs = Date.parse(match[2]!);
  if (!Number.isFinite(atMs)) return null;
  if (keySlot(id) !== keySlot(match[1]!)) return null;
  return { schedule: match[1]!, atMs };
}
