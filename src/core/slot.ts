/**
 * Hash slot of a task id: the same CRC16 (XMODEM) mod 16384 that Redis Cluster uses
 * (CLUSTER KEYSLOT), including its `{hash tag}` rule. Using Redis' own function means a task's
 * slot (and so its shard, see shard-map.ts) can be computed in any process without asking Redis,
 * and agrees with Redis everywhere.
 * Pure.
 */
import { crc16xmodem } from "crc";

/** Number of hash slots in Redis Cluster. */
export const SLOT_COUNT = 16384;

/**
 * Redis Cluster's slot of a key. If the key has a `{` and a later `}` with at least one character
 * between the first `{` and the first `}` after it, only that part is hashed; otherwise the whole
 * key. Hashes the UTF-8 bytes (`{` and `}` are ASCII, so finding them in the string is the same as
 * finding them in the bytes).
 */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16Ascii(key) & (SLOT_COUNT - 1);
}

/**
 * CRC16/XMODEM of a string's UTF-8 bytes. Task ids are ASCII (their chars are their bytes), so
 * they are hashed straight from the string: a Buffer per id showed up in bulk scheduling.
 */
function crc16Ascii(key: string): number {
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const byte = key.charCodeAt(i);
    if (byte > 0x7f) return crc16xmodem(Buffer.from(key, "utf8"));
    crc = ((crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ byte) & 0xff]!) & 0xffff;
  }
  return crc;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();
