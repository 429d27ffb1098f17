/**
 * Every child process and temp directory the benchmark starts, so that whatever way the runner
 * ends (success, error, Ctrl-C, a deadline), none is left behind.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const children = new Set<ChildProcess>();
const directories = new Set<string>();
let installed = false;

/** Tracks a child until it exits. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Tracks a temp directory until `untrackDirectory`; removed on abnormal exit. */
export function trackDirectory(path: string): void {
  directories.add(path);
}

export function untrackDirectory(path: string): void {
  directories.delete(path);
}

/** Kills every tracked child (synchronously: safe in an `exit` handler) and removes temp directories. */
export function killAllChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
  for (const path of directories) rmSync(path, { recursive: true, force: true });
  directories.clear();
}

/** Installs exit, signal and crash handlers that clean up; once per process. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => killAllChildren());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping child processes\n`);
      killAllChildren();
      process.exit(130);
    });
  }
}
