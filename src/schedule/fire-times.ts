/**
 * When a schedule fires: the pure time arithmetic of a cron pattern in an IANA zone, or of a fixed
 * interval, bounded by startAt (inclusive) and endAt (exclusive). Cron parsing and zone arithmetic
 * come from `croner`; this file only adds the bounds, the interval case and ISO formatting in the
 * zone. Every function takes the reference time as an argument (no clock is read here), so DST
 * behaviour is tested by passing instants around the transitions, not by waiting.
 *
 * DST (croner's rules, written down in docs/schedules.md): a fixed-time pattern (seconds, minutes
 * and hours each one value, e.g. `30 2 * * *`) whose wall time falls in the spring-forward gap
 * fires once at the first valid time after the gap (03:00); one whose wall time happens twice at
 * fall-back fires once, at the first of the two. Any other pattern (`0 * * * *`, `*\/15 …`) is
 * an interval pattern: a wall time in the gap does not exist and is skipped, and a repeated wall
 * time fires twice (once per UTC instant). `every` schedules do not look at wall time at all.
 */
import { Cron } from "croner";

export type FireRule =
  | { kind: "cron"; cron: string; tz: string }
  | { kind: "every"; everyMs: number };

export interface FireBounds {
  /** First instant an occurrence may have (inclusive); also the anchor of `every`. */
  startAtMs: number | null;
  /** No occurrence at or after this instant. */
  endAtMs: number | null;
}

export class FireTimes {
  private readonly cron: Cron | null;

  constructor(
    readonly rule: FireRule,
    readonly bounds: FireBounds,
  ) {
    // mode "5-or-6-parts": croner would also take a 7th (year) field, which the API does not offer.
    this.cron = rule.kind === "cron" ? new Cron(rule.cron, { timezone: rule.tz, mode: "5-or-6-parts", paused: true }) : null;
  }

  /** The first occurrence strictly after `afterMs`, or null when there is none (endAt passed). */
  next(afterMs: number): number | null {
    const { startAtMs, endAtMs } = this.bounds;
    // Occurrences start at startAt inclusive: search from just before it.
    const from = startAtMs !== null && afterMs < startAtMs ? startAtMs - 1 : afterMs;
    const at = this.cron ? cronNext(this.cron, from) : everyNext(this.rule as { everyMs: number }, startAtMs ?? 0, from);
    if (at === null || (endAtMs !== null && at >= endAtMs)) return null;
    return at;
  }

  /** Up to `count` occurrences after `afterMs`, in order. */
  nextN(count: number, afterMs: number): number[] {
    const times: number[] = [];
    let cursor = afterMs;
    while (times.length < count) {
      const at = this.next(cursor);
      if (at === null) break;
      times.push(at);
      cursor = at;
    }
    return times;
  }
}

function cronNext(cron: Cron, afterMs: number): number | null {
  const date = cron.nextRun(new Date(afterMs));
  return date === null ? null : date.getTime();
}

/**
 * `every` fires at anchor + k·every (k >= 0), anchored at startAt or, without one, at the Unix
 * epoch, so "15m" fires at :00, :15, :30 and :45 UTC and every node computes the same instants.
 */
function everyNext(rule: { everyMs: number }, anchorMs: number, afterMs: number): number {
  if (afterMs < anchorMs) return anchorMs;
  return anchorMs + (Math.floor((afterMs - anchorMs) / rule.everyMs) + 1) * rule.everyMs;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Answers of isKnownZone: building a DateTimeFormat costs ~30 µs, a bulk put asks once per schedule. */
const knownZones = new Map<string, boolean>();
/** Zones remembered at most (names come from producers: the cache must not grow without bound). */
const KNOWN_ZONES_MAX = 1_000;

/** Whether `tz` is an IANA zone name this runtime knows (croner itself accepts any string). */
export function isKnownZone(tz: string): boolean {
  const cached = knownZones.get(tz);
  if (cached !== undefined) return cached;
  let known: boolean;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    known = true;
  } catch {
    known = false;
  }
  if (knownZones.size < KNOWN_ZONES_MAX) knownZones.set(tz, known);
  return known;
}

/**
 * An instant as ISO-8601 in a zone, with the zone's offset at that instant:
 * `2027-03-28T03:00:00+02:00` (milliseconds only when non-zero; `Z` for UTC).
 */
export function isoInZone(atMs: number, tz: string): string {
  if (tz === "UTC" || tz === "Etc/UTC") {
    const iso = new Date(atMs).toISOString();
    return atMs % 1000 === 0 ? iso.replace(".000Z", "Z") : iso;
  }
  let formatter = formatters.get(tz);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(tz, formatter);
  }
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(new Date(atMs))) parts[part.type] = part.value;
  const wholeMs = Math.floor(atMs / 1000) * 1000;
  const wallAsUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offsetMinutes = Math.round((wallAsUtc - wholeMs) / 60_000);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const offset = `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  const millis = atMs - wholeMs;
  const fraction = millis === 0 ? "" : `.${String(millis).padStart(3, "0")}`;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${fraction}${offset}`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}
