/**
 * How a schedule is laid out in Redis: "<version>\t<last occurrence id>\n<json>" in the shard's
 * schedules hash (store/lua/schedule-write-5.lua). The scripts read only the header: the version
 * for compare-and-set writes, the last occurrence's id to tell the planter whether it is still
 * waiting, running or ended. The json is short-keyed and leaves out defaults, since a tenant-per-
 * schedule deployment keeps 100,000s of them.
 */
import type { FireRule } from "./fire-times.ts";
import { occurrenceId } from "../task/occurrence-id.ts";
import type { MisfirePolicy, OverlapPolicy, ScheduleDefinition, TaskTemplate } from "./schedule-input.ts";

export interface ScheduleState {
  name: string;
  version: number;
  definition: ScheduleDefinition;
  /** Every occurrence at or before this instant is decided (planted or skipped). */
  cursorMs: number;
  /** Time of the last occurrence planted, and of the one planted before it. */
  lastAtMs: number | null;
  prevAtMs: number | null;
  createdAt: number;
  updatedAt: number;
}

interface CompactSchedule {
  r: string | number; // cron pattern, or every ms
  z?: string; // tz, when not UTC
  k: TaskTemplate;
  s?: number; // startAt
  e?: number; // endAt
  m?: MisfirePolicy; // when not "once"
  o?: OverlapPolicy; // when not "allow"
  p?: 1; // paused
  c: number; // cursor
  l?: number; // last planted at
  q?: number; // planted before it at
  ca: number;
  ua: number;
}

export function encodeSchedule(state: ScheduleState): string {
  const d = state.definition;
  const compact: CompactSchedule = { r: d.rule.kind === "cron" ? d.rule.cron : d.rule.everyMs, k: d.task, c: state.cursorMs, ca: state.createdAt, ua: state.updatedAt };
  if (d.tz !== "UTC") compact.z = d.tz;
  if (d.startAtMs !== null) compact.s = d.startAtMs;
  if (d.endAtMs !== null) compact.e = d.endAtMs;
  if (d.misfire !== "once") compact.m = d.misfire;
  if (d.overlap !== "allow") compact.o = d.overlap;
  if (d.paused) compact.p = 1;
  if (state.lastAtMs !== null) compact.l = state.lastAtMs;
  if (state.prevAtMs !== null) compact.q = state.prevAtMs;
  const lastId = state.lastAtMs === null ? "" : occurrenceId(state.name, state.lastAtMs);
  return `${state.version}\t${lastId}\n${JSON.stringify(compact)}`;
}

export function decodeSchedule(name: string, stored: string): ScheduleState {
  const tab = stored.indexOf("\t");
  const newline = stored.indexOf("\n", tab);
  if (tab < 0 || newline < 0) throw new Error(`corrupt schedule record for ${name} (no version header)`);
  const c = JSON.parse(stored.slice(newline + 1)) as CompactSchedule;
  const tz = c.z ?? "UTC";
  const rule: FireRule = typeof c.r === "number" ? { kind: "every", everyMs: c.r } : { kind: "cron", cron: c.r, tz };
  return {
    name,
    version: Number(stored.slice(0, tab)),
    definition: {
      rule,
      tz,
      task: c.k,
      startAtMs: c.s ?? null,
      endAtMs: c.e ?? null,
      misfire: c.m ?? "once",
      overlap: c.o ?? "allow",
      paused: c.p === 1,
    },
    cursorMs: c.c,
    lastAtMs: c.l ?? null,
    prevAtMs: c.q ?? null,
    createdAt: c.ca,
    updatedAt: c.ua,
  };
}
