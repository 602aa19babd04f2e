/**
 * IP addresses and CIDR ranges for the webhook's outbound checks, as bytes:
 * parsing, range matching, and unwrapping the IPv6 forms that carry an IPv4
 * address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96,
 * 6to4 2002::/16). A check that looked only at the IPv6 text would let
 * `[::ffff:169.254.169.254]` through to the metadata service, so every
 * address is judged by the IPv4 address it reaches when it carries one.
 *
 * Only canonical dotted-quad IPv4 is parsed here. Decimal, octal and hex
 * forms (`2130706433`, `0x7f.1`, `017700000001`) never reach this file as
 * such: the WHATWG URL parser turns them into the dotted quad they mean, and
 * every URL is judged (and fetched) in that normalized form.
 */

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface IpRange {
  family: 4 | 6;
  bytes: Uint8Array;
  prefixLength: number;
}

const IPV4_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted-quad IPv4 or an IPv6 address (brackets and a %zone are allowed); null when it is neither. */
export function parseIp(text: string): IpAddress | null {
  let value = text.trim();
  if (value.startsWith("[") && value.endsWith("]")) value = value.slice(1, -1);
  const zone = value.indexOf("%");
  if (zone >= 0) value = value.slice(0, zone);
  const v4 = parseIpv4(value);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(value);
  return v6 ? { family: 6, bytes: v6 } : null;
}

function parseIpv4(text: string): Uint8Array | null {
  const match = IPV4_PATTERN.exec(text);
  if (!match) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = match[i + 1]!;
    // A leading zero means octal to some parsers and decimal to others: not canonical, refused.
    if (part.length > 1 && part.startsWith("0")) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | null {
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const groups: number[] = [];
  const pushGroups = (parts: string[], into: number[], allowV4Tail: boolean): boolean => {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (allowV4Tail && i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (!v4) return false;
        into.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return false;
      into.push(parseInt(part, 16));
    }
    return true;
  };
  const tailGroups: number[] = [];
  if (!pushGroups(head, groups, halves.length === 1)) return null;
  if (!pushGroups(tail, tailGroups, true)) return null;
  if (halves.length === 1) {
    if (groups.length !== 8) return null;
  } else {
    const missing = 8 - groups.length - tailGroups.length;
    // "::" stands for at least one zero group.
    if (missing < 1) return null;
    for (let i = 0; i < missing; i++) groups.push(0);
    groups.push(...tailGroups);
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = groups[i]! >> 8;
    bytes[i * 2 + 1] = groups[i]! & 0xff;
  }
  return bytes;
}

/** Parses "a.b.c.d/n", "x::y/n", or a bare address (a range of one). */
export function parseRange(text: string): IpRange | null {
  const slash = text.indexOf("/");
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return null;
  const maxPrefix = address.family === 4 ? 32 : 128;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    prefixLength = Number(prefixText);
    if (prefixLength > maxPrefix) return null;
  }
  return { family: address.family, bytes: address.bytes, prefixLength };
}

export function rangeContains(range: IpRange, address: IpAddress): boolean {
  if (range.family !== address.family) return false;
  const fullBytes = range.prefixLength >> 3;
  for (let i = 0; i < fullBytes; i++) if (range.bytes[i] !== address.bytes[i]) return false;
  const restBits = range.prefixLength & 7;
  if (restBits === 0) return true;
  const mask = (0xff << (8 - restBits)) & 0xff;
  return (range.bytes[fullBytes]! & mask) === (address.bytes[fullBytes]! & mask);
}

/**
 * The IPv4 address an IPv6 address carries, if it is one of the forms that
 * reach an IPv4 host: IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96,
 * deprecated but still routed by some stacks), NAT64 (64:ff9b::/96) and
 * 6to4 (2002::/16, the address in bits 16-47).
 */
export function embeddedIpv4(address: IpAddress): IpAddress | null {
  if (address.family !== 6) return null;
  const b = address.bytes;
  const zeros = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (b[i] !== 0) return false;
    return true;
  };
  const lastFour = () => ({ family: 4 as const, bytes: b.slice(12, 16) });
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return lastFour();
  // ::/96 except :: and ::1 themselves, which are IPv6's own unspecified and loopback.
  if (zeros(0, 12) && !(zeros(12, 15) && (b[15] === 0 || b[15] === 1))) return lastFour();
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return lastFour();
  if (b[0] === 0x20 && b[1] === 0x02) return { family: 4, bytes: b.slice(2, 6) };
  return null;
}

export function formatIp(address: IpAddress): string {
  if (address.family === 4) return Array.from(address.bytes).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((address.bytes[i]! << 8) | address.bytes[i + 1]!).toString(16));
  return groups.join(":");
}

/** A named set of ranges, for messages ("169.254.169.254 is link-local"). */
export interface NamedRanges {
  name: string;
  ranges: IpRange[];
}

export function ranges(name: string, ...cidrs: string[]): NamedRanges {
  return {
    name,
    ranges: cidrs.map((cidr) => {
      const range = parseRange(cidr);
      if (!range) throw new Error(`bad built-in range ${cidr}`);
      return range;
    }),
  };
}

/** The first named set that contains the address, or null. */
export function findRange(sets: readonly NamedRanges[], address: IpAddress): NamedRanges | null {
  for (const set of sets) {
    for (const range of set.ranges) if (rangeContains(range, address)) return set;
  }
  return null;
}
