/**
 * Parsing of the two kinds of time a user hands us: a duration ("90s", "1h30m", 500) for delays,
 * timeouts and backoff, and an instant (Date, epoch ms, ISO-8601) for "run at". Shared by the
 * HTTP API, the TS client, the CLI and config so all of them accept and reject the same inputs.
 *
 * Results are integer milliseconds (fractions rounded for durations, floored for instants), since
 * due times are stored as integer ms scores in Redis. An ISO string must carry its time zone
 * ("Z" or "+01:00") or be a bare date (UTC midnight, as ECMAScript reads it): a local wall time
 * would mean different instants on different nodes.
 */

type DurationErrorCode = "invalid_duration" | "invalid_time";

export class DurationError extends Error {
  override readonly name = "DurationError";
  constructor(
    readonly code: DurationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
// "ms" before "m" and "s", so "250ms" is not read as 250 minutes and a stray "s".
const DURATION_PART = /\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d|w)/y;
const EXPECTED_DURATION =
  'expected milliseconds as a number >= 0, or a string like "250ms", "90s", "10m", "1h30m", "7d" ' +
  "(units ms, s, m, h, d, w)";

/** Duration in whole ms from a number of ms or a string such as "1h30m", "1.5h", "500". */
export function parseDuration(input: string | number): number {
  const fail = (): never => {
    throw new DurationError("invalid_duration", `invalid duration ${describe(input)}: ${EXPECTED_DURATION}`);
  };
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) fail();
    return checkedMs(Math.round(input)) ?? fail();
  }
  if (typeof input !== "string") return fail();
  const text = input.trim();
  if (/^\d+$/.test(text)) return checkedMs(Number(text)) ?? fail();
  let totalMs = 0;
  let parts = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (!match) return fail();
    totalMs += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    parts++;
  }
  if (parts === 0) fail();
  return checkedMs(Math.round(totalMs)) ?? fail();
}

// Date-only, or date + time (minutes required, seconds and fraction optional) + zone.
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-](\d{2}):?(\d{2})))?$/;
const EXPECTED_INSTANT =
  "expected epoch milliseconds, a Date, or an ISO-8601 time with a zone such as " +
  '"2025-03-01T09:30:00Z" or "2025-03-01T09:30:00+01:00" (or a date "2025-03-01", read as UTC midnight)';
// ECMAScript's time range: ±100,000,000 days around the epoch.
const MAX_EPOCH_MS = 8.64e15;

/** Epoch ms from a Date, an epoch-ms number, or an ISO-8601 string with a zone (or date only). */
export function parseInstant(input: Date | number | string): number {
  const fail = (): never => {
    throw new DurationError("invalid_time", `invalid time ${describe(input)}: ${EXPECTED_INSTANT}`);
  };
  let epochMs: number;
  if (input instanceof Date) {
    epochMs = input.getTime();
  } else if (typeof input === "number") {
    epochMs = input;
  } else if (typeof input === "string") {
    const text = input.trim();
    const match = ISO_INSTANT.exec(text);
    if (!match || !validFields(match)) return fail();
    epochMs = Date.parse(text);
  } else {
    return fail();
  }
  if (!Number.isFinite(epochMs) || Math.abs(epochMs) > MAX_EPOCH_MS) fail();
  return Math.floor(epochMs);
}

/** Calendar checks Date.parse skips: it rolls "2023-02-29" over to March 1st instead of failing. */
function validFields(match: RegExpExecArray): boolean {
  const field = (index: number): number => Number(match[index] ?? 0);
  const [year, month, day] = [field(1), field(2), field(3)];
  const leapYear = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = month === 2 ? (leapYear ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    field(4) <= 23 && // hour; ISO's "24:00" is not accepted
    field(5) <= 59 &&
    field(6) <= 59 && // no leap seconds: Date cannot represent them
    field(7) <= 23 && // zone offset hours and minutes
    field(8) <= 59
  );
}

function checkedMs(ms: number): number | undefined {
  return Number.isSafeInteger(ms) ? ms + 0 : undefined; // + 0 turns -0 into 0
}

function describe(input: unknown): string {
  if (typeof input === "string") return JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input);
  if (input instanceof Date) return "Invalid Date";
  return String(input);
}
