/**
 * CPU time and peak memory of other processes, read from /proc: the way the research measured
 * which process is the bottleneck. CPU is utime + stime of `/proc/<pid>/stat` (all threads of the
 * process), in clock ticks divided by `getconf CLK_TCK`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times (`getconf CLK_TCK`, 100 on Linux when it cannot be asked). */
export const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** CPU seconds (user + system) the process has used so far; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name in parentheses may hold spaces; fields count from the state after ") ".
  // Field 3 (state) is fields[0], so utime (field 14) is fields[11] and stime (15) fields[12].
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Peak resident memory of the process in bytes (VmHWM of /proc/<pid>/status). */
export function peakRssBytes(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

/** Resident memory of the process in bytes now (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`${field} not found in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/**
 * The CPU seconds one process uses during a measurement: sampled when the watch starts, when it
 * is read, and every `intervalMs` in between, so that a process which exits before the end of the
 * measurement (a walsender whose client has finished) still counts up to its last sample.
 *
 * A process born during the measurement (`bornInside`) counts from zero: all its CPU time falls
 * inside the measured interval.
 */
export class CpuWatch {
  private readonly start: number;
  private last: number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    options: { bornInside?: boolean; intervalMs?: number } = {},
  ) {
    const now = cpuSeconds(pid) ?? 0;
    this.start = options.bornInside ? 0 : now;
    this.last = now;
    if (options.intervalMs !== undefined) {
      this.timer = setInterval(() => this.sample(), options.intervalMs);
      this.timer.unref();
    }
  }

  private sample(): void {
    const now = cpuSeconds(this.pid);
    if (now !== undefined) this.last = now;
  }

  /** Takes a last sample and returns the CPU seconds used since the start; stops the sampling. */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    return this.last - this.start;
  }
}

/** CPU seconds of the whole machine, from /proc/stat. */
export interface MachineCpu {
  /** Busy on this machine: every core, every process, the kernel. */
  busy: number;
  /**
   * Taken by the hypervisor for other guests while this virtual machine had work to run ("steal"):
   * the processes measured were runnable but did not run, so a phase with steal runs slower than
   * the machine can.
   */
  steal: number;
}

/** The machine's CPU seconds so far. */
export function machineCpuSeconds(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return {
    busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / CLK_TCK,
    steal: (steal ?? 0) / CLK_TCK,
  };
}

/** The machine's CPU seconds during a measurement: what else ran shows as the excess over ours. */
export class MachineCpuWatch {
  private readonly start = machineCpuSeconds();

  /** Busy and stolen CPU seconds of the machine since the start. */
  stop(): MachineCpu {
    const now = machineCpuSeconds();
    return { busy: now.busy - this.start.busy, steal: now.steal - this.start.steal };
  }
}
