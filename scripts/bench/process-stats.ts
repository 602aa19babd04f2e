/**
 * Reading other processes' resource use for the benchmark: CPU time from
 * /proc/<pid>/stat (utime + stime) and the machine's description.
 */
import { readFileSync } from "node:fs";
import os from "node:os";

// USER_HZ, the unit of utime/stime; 100 on every Linux this runs on, read once to be sure.
const CLOCK_TICKS = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line: 12th and 13th after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Busy and total CPU time of the whole machine so far (seconds, all cores; from /proc/stat). */
function machineSeconds(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

/** CPU use of several processes over an interval, as % of one core. */
export class CpuMeter {
  private readonly startCpu: number[];
  private readonly startWall = performance.now();
  private readonly startMachine = machineSeconds();

  constructor(private readonly pids: number[]) {
    this.startCpu = pids.map(cpuSeconds);
  }

  /** % of one core per pid since construction. */
  read(): number[] {
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    return this.pids.map((pid, i) => (100 * (cpuSeconds(pid) - this.startCpu[i]!)) / wallSeconds);
  }

  /** The whole machine's busy CPU since construction, as % of one core (200 % = both cores of a 2-core machine). */
  machineBusy(): number {
    const now = machineSeconds();
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    return (100 * (now.busy - this.startMachine.busy)) / wallSeconds;
  }
}

/** This process' CPU (user + system) as % of one core since `since` (a process.cpuUsage() value). */
export function selfCpuPercent(since: NodeJS.CpuUsage, wallMs: number): number {
  const used = process.cpuUsage(since);
  return (100 * (used.user + used.system)) / 1000 / wallMs;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  bun: string;
  redis: string;
  bullmq: string;
  tickwheel: string;
}

/** The CPU model as /proc/cpuinfo names it ("model name"), with its vendor when the name alone is generic. */
function cpuModel(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const name = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim();
    const vendor = /^vendor_id\s*:\s*(.+)$/m.exec(info)?.[1]?.trim();
    if (name) return vendor && !name.includes("Intel") && !name.includes("AMD") ? `${name} [${vendor}]` : name;
  } catch {
    // not Linux: fall back to what the runtime reports
  }
  return os.cpus()[0]?.model ?? "?";
}

export function machineInfo(): MachineInfo {
  const nproc = Number(Bun.spawnSync(["nproc"]).stdout.toString().trim()) || os.cpus().length;
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? "Linux";
  const redisVersion = /v=(\S+)/.exec(Bun.spawnSync(["redis-server", "--version"]).stdout.toString())?.[1] ?? "?";
  const root = new URL("../../", import.meta.url).pathname;
  const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string };
  const bullPkg = JSON.parse(readFileSync(`${root}node_modules/bullmq/package.json`, "utf8")) as { version: string };
  const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root }).stdout.toString().trim();
  return {
    cpus: nproc,
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${pretty}, Linux ${os.release()}`,
    bun: Bun.version,
    redis: redisVersion,
    bullmq: bullPkg.version,
    tickwheel: `${pkg.version} (${commit || "uncommitted"})`,
  };
}
