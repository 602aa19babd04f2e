/**
 * The kernel side of RealtimeThreads on Linux: the process's threads from
 * /proc/self/task and sched_setscheduler(2) through libc (bun:ffi, built into
 * Bun: no package, no helper process).
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readdirSync } from "node:fs";
import { SCHED_FIFO, type ThreadScheduler } from "./realtime-threads.ts";

/** The scheduler, or why there is none here (not Linux, no libc to call). */
export function linuxThreadScheduler(): ThreadScheduler | string {
  if (process.platform !== "linux") return `real-time scheduling is only set on Linux (this is ${process.platform})`;
  let libc;
  try {
    libc = dlopen("libc.so.6", {
      sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      sched_getscheduler: { args: [FFIType.i32], returns: FFIType.i32 },
    });
  } catch (error) {
    return `cannot call sched_setscheduler through libc.so.6: ${error instanceof Error ? error.message : String(error)}`;
  }
  const param = new Int32Array(1);
  return {
    threads: () =>
      readdirSync("/proc/self/task")
        .map(Number)
        .filter((tid) => Number.isInteger(tid) && tid > 0),
    raise: (tid, priority) => {
      param[0] = priority;
      // The return value says enough (0 or -1): errno is not reachable from here, and the only
      // refusals that matter are EPERM (no CAP_SYS_NICE, RLIMIT_RTPRIO too low) and ESRCH (gone).
      return libc.symbols.sched_setscheduler(tid, SCHED_FIFO, ptr(param)) === 0 && libc.symbols.sched_getscheduler(tid) === SCHED_FIFO;
    },
  };
}
