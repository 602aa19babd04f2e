/**
 * Task ids: 26 characters, unique, and sortable by creation time as plain strings.
 *
 * The 16 bytes are laid out as a UUIDv7 (RFC 9562 §5.7: 48-bit ms timestamp, version, 74 random
 * bits), written in Crockford base32 (0-9, A-Z without I, L, O, U). That alphabet is in ASCII order, so
 * string order is byte order is time order. Bun's own "base64url" form is shorter (22 chars) but
 * its alphabet (A-Z, a-z, 0-9, -, _) is not in ASCII order: about 1 in 8 consecutive ids compared
 * out of order when checked, so it is not used. Bun's hex form sorts but takes 36 chars.
 *
 * Within one process ids are strictly increasing even when the wall clock steps back or many
 * ids share a millisecond: an id that would not sort after the previous one becomes the previous
 * one plus one (the "monotonic counter" method of RFC 9562 §6.2). Across processes, ids sort by
 * millisecond and are unique by their 62+ random bits.
 */

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_BYTES = 16;
const ID_LENGTH = 26; // ceil(128 / 5)
const TIME_CHARS = 10; // 2 padding bits + the 48-bit timestamp = 50 bits = 10 characters

const lastId = new Uint8Array(ID_BYTES);
const bytes = new Uint8Array(ID_BYTES);
// Random bytes drawn 4 KiB at a time: Bun.randomUUIDv7("buffer") made a Buffer per id, half of
// an id's cost and garbage on bulk scheduling's hot path.
const RANDOM_POOL = new Uint8Array(4096);
let poolAt = RANDOM_POOL.length;

/** A new id; `nowMs` is the wall clock unless a test steps it. */
export function newTaskId(nowMs: number = Date.now()): string {
  if (poolAt + 10 > RANDOM_POOL.length) {
    crypto.getRandomValues(RANDOM_POOL);
    poolAt = 0;
  }
  const pool = RANDOM_POOL;
  // 48-bit ms, big-endian (a double's integer part splits exactly at 2^32).
  const high = Math.floor(nowMs / 0x1_0000_0000);
  const low = nowMs >>> 0;
  bytes[0] = high >>> 8;
  bytes[1] = high;
  bytes[2] = low >>> 24;
  bytes[3] = low >>> 16;
  bytes[4] = low >>> 8;
  bytes[5] = low;
  bytes[6] = 0x70 | (pool[poolAt++]! & 0x0f); // version 7
  bytes[7] = pool[poolAt++]!;
  bytes[8] = 0x80 | (pool[poolAt++]! & 0x3f); // variant 10
  for (let i = 9; i < ID_BYTES; i++) bytes[i] = pool[poolAt++]!;
  if (compareBytes(bytes, lastId) <= 0) {
    bytes.set(lastId);
    incrementBytes(bytes);
  }
  lastId.set(bytes);
  return encodeCrockford(bytes);
}

/** The creation time (epoch ms) embedded in a task id, or null when the text is not one. */
export function taskIdTimeMs(id: string): number | null {
  if (id.length !== ID_LENGTH) return null;
  let ms = 0;
  for (let i = 0; i < TIME_CHARS; i++) {
    const digit = CROCKFORD.indexOf(id.charAt(i));
    if (digit === -1) return null;
    ms = ms * 32 + digit; // stays below 2^50: exact in a double
  }
  return ms;
}

/** 128 bits as 26 base32 digits, most significant first, after two leading zero bits. */
function encodeCrockford(bytes: Uint8Array): string {
  // Char codes into a reused array, one string at the end: per-char concatenation was a sixth
  // of bulk scheduling's time.
  const codes = ID_CODES;
  let buffer = 0;
  let bufferedBits = 2; // the two zero bits that pad 128 to 130 = 26 × 5
  let at = 0;
  for (let i = 0; i < ID_BYTES; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xfff; // at most 4 + 8 bits are ever pending
    bufferedBits += 8;
    while (bufferedBits >= 5) {
      bufferedBits -= 5;
      codes[at++] = CROCKFORD_CODES[(buffer >>> bufferedBits) & 31]!;
    }
  }
  return String.fromCharCode.apply(null, codes);
}

const CROCKFORD_CODES = Array.from(CROCKFORD, (char) => char.charCodeAt(0));
const ID_CODES = new Array<number>(ID_LENGTH).fill(0);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function incrementBytes(bytes: Uint8Array): void {
  for (let i = ID_BYTES - 1; i >= 0; i--) {
    bytes[i] = ((bytes[i] ?? 0) + 1) & 0xff;
    if (bytes[i] !== 0) return;
  }
}
