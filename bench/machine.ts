/** The machine and code a run was measured on, and how busy the machine was. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  readonly nproc: number;
  readonly cpu_model: string;
  readonly ram_gb: number;
  readonly node: string;
  readonly kernel: string;
  readonly commit: string;
  /** `uptime` (load averages) when asked. */
  readonly uptime: string;
  readonly loadavg: readonly number[];
}

function command(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    return /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The current `uptime` line and load averages (other processes' load shows here). */
export function currentLoad(): { uptime: string; loadavg: number[] } {
  return { uptime: command('uptime', []), loadavg: loadavg().map((value) => Math.round(value * 100) / 100) };
}

/** The machine, Node and commit of a run. `HERALD_BENCH_COMMIT` names the code when it runs outside its checkout. */
export function machineInfo(): MachineInfo {
  const head = command('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = command('git', ['status', '--porcelain', '--untracked-files=no']) !== '';
  const named = process.env.HERALD_BENCH_COMMIT;
  return {
    nproc: cpus().length,
    cpu_model: cpuModel(),
    ram_gb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: command('uname', ['-r']),
    commit: named ? named : dirty ? `${head} (with uncommitted changes)` : head,
    ...currentLoad(),
  };
}
