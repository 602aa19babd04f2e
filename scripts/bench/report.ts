/**
 * Turns the cases' reports into the page: the main table of both systems
 * (medians across runs, with the ratio and the issue's target), the cases'
 * own sections (Celery), the machine (CPU model from /proc/cpuinfo),
 * versions and settings, and every run's figures, as Markdown for the
 * terminal and BENCHMARKS.md.
 */
import type { MachineInfo } from "./process-stats.ts";
import type { CaseReport, Setting } from "./suite.ts";

export interface ReportInput {
  reports: CaseReport[];
  machine: MachineInfo;
  command: string;
  settings: Setting[];
  durationS: number;
}

export function renderReport(input: ReportInput): string {
  const { reports, machine } = input;
  const rows = reports.flatMap((report) => report.rows);
  const table = rows.length
    ? [
        "| case | metric | tickwheel | BullMQ | ratio | target |",
        "|---|---|--:|--:|--:|---|",
        ...rows.map((r) => `| ${r.caseLabel} | ${r.metric} | ${r.tickwheel} | ${r.bullmq} | ${r.ratio} | ${r.target} |`),
      ].join("\n")
    : "";
  const settings = input.settings
    .map((s) => `${s.label}${s.extra ? " (extra row)" : ""}: ${Object.entries(s.concurrency).map(([name, n]) => `${name} ${n}`).join(", ")}${s.tickwheelEnv ? ` (${Object.entries(s.tickwheelEnv).map(([k, v]) => `${k}=${v}`).join(" ")})` : ""}`)
    .join("; ");
  return [
    `Command: \`${input.command}\` (runs per case, system and setting: ${reports.map((r) => r.runsNote).join(", ")}; medians; took ${Math.round(input.durationS / 60)} min). ` +
      `Run on ${new Date().toISOString().slice(0, 10)} at ${machine.tickwheel}.`,
    "",
    table,
    "",
    ...reports.flatMap((report) => report.sections.flatMap((section) => [section, ""])),
    `Machine: ${machine.cpus} CPUs (nproc), ${machine.cpuModel} (/proc/cpuinfo), ${machine.memoryGiB} GiB RAM, ${machine.os}. ` +
      `Versions: tickwheel ${machine.tickwheel}, BullMQ ${machine.bullmq}, Bun ${machine.bun}, redis-server ${machine.redis} (private, no persistence).`,
    "",
    `Settings: worker concurrency per row: ${settings}. tickwheel node: 16 shards, other settings default; BullMQ Worker: other options default. ` +
      `Cases without a worker setting (enqueue, memory) run at each system's default. Both keep finished tasks by default ` +
      `(tickwheel: final record with a 24 h TTL; BullMQ: completed set), and both run as their own process beside the producer.` +
      [...new Set(reports.map((r) => r.settingsNote).filter(Boolean))].map((note) => ` ${note![0]!.toUpperCase()}${note!.slice(1)}.`).join(""),
    "",
    "<details><summary>Every run</summary>",
    "",
    "```",
    ...reports.flatMap((report) => report.runLines),
    "```",
    "",
    "</details>",
  ].join("\n");
}
