/**
 * What every benchmark case shares: the context it runs in (systems,
 * concurrency settings, run counts, flags) and the report it hands back
 * (rows of the main table, sections of its own, one line per run). Each case
 * is one module in scripts/bench/cases/ and one line in scripts/bench.ts'
 * registry, so cases added in parallel merge without touching each other.
 */
import type { System, SystemName } from "./systems.ts";

export interface Setting {
  /** How the table names it, e.g. "both at concurrency 100". */
  label: string;
  /** Worker concurrency per system; a system absent here does not run in this setting. */
  concurrency: Partial<Record<SystemName, number>>;
  /** A system's own better setting: shown as an extra, named row, never as the headline. */
  extra?: boolean;
  /** More tickwheel node settings in this row (TICKWHEEL_*), e.g. a claim depth. */
  tickwheelEnv?: Record<string, string>;
  /** Cases this setting applies to (all concurrency-bound cases when absent). */
  cases?: string[];
}

export interface BenchContext {
  systems: Record<SystemName, System>;
  /** Systems asked for with --systems. */
  systemNames: SystemName[];
  settings: Setting[];
  /** Runs per system and setting: --runs, or the case's default. */
  runs(defaultRuns: number): number;
  /** Task counts are multiplied by this (--scale). */
  scale: number;
  steadySeconds: number;
  rates: number[];
  /** Every flag as given, for a case's own (e.g. --webhook-rate). */
  flags: Record<string, string | boolean | undefined>;
  log(line: string): void;
}

/** One row of the main table (tickwheel against BullMQ). */
export interface Row {
  caseLabel: string;
  metric: string;
  tickwheel: string;
  bullmq: string;
  ratio: string;
  target: string;
}

export interface CaseReport {
  /** Rows of the main table. */
  rows: Row[];
  /** Markdown sections of the case's own (a table against another system), after the main table. */
  sections: string[];
  /** One line per run with its raw figures (the "Every run" block). */
  runLines: string[];
  /** Runs done, for the command line's summary, e.g. "burst 3". */
  runsNote: string;
  /** Settings the case ran with, for the settings paragraph. */
  settingsNote?: string;
}

export interface BenchCase {
  /** Left out of a plain `bun run bench`; runs when named (e.g. `bun run bench schedules`). */
  onlyWhenNamed?: boolean;
  run(ctx: BenchContext): Promise<CaseReport>;
}

/** Settings that apply to a case, with the systems (of those asked for) that run in each. */
export function settingsFor(ctx: BenchContext, caseName: string): { setting: Setting; systems: SystemName[] }[] {
  return ctx.settings
    .filter((setting) => !setting.cases || setting.cases.includes(caseName))
    .map((setting) => ({ setting, systems: ctx.systemNames.filter((name) => setting.concurrency[name] !== undefined) }))
    .filter((entry) => entry.systems.length > 0);
}

export function median(values: number[]): number {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
export const ms = (n: number) => (Number.isFinite(n) ? (Number.isInteger(n) ? String(n) : n.toFixed(1)) : "–");
export const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} %` : "–");
export const times = (n: number) => (Number.isFinite(n) ? `${n >= 10 ? Math.round(n) : n.toFixed(1)}×` : "–");
export const check = (ok: boolean | null) => (ok === null ? "" : ok ? " ✅" : " ❌");

/** A run's figures as one line, numbers rounded to a tenth. */
export function runLine(label: string, result: object): string {
  const round = (value: unknown): unknown =>
    typeof value === "number" ? Math.round(value * 10) / 10 : Array.isArray(value) ? value.map(round) : value && typeof value === "object" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, round(v)])) : value;
  return `${label}: ${JSON.stringify(round(result))}`;
}

/** "CPU node (worker) / redis" cells, medians over runs. */
export function cpuCell<T extends { workerCpu: number; redisCpu: number; machineCpu?: number }>(list: T[]): string {
  if (list.length === 0) return "–";
  const machine = median(list.map((r) => r.machineCpu ?? NaN));
  return `${pct(median(list.map((r) => r.workerCpu)))} / ${pct(median(list.map((r) => r.redisCpu)))}${Number.isFinite(machine) ? ` (machine ${pct(machine)})` : ""}`;
}
