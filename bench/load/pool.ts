/** The runner's side of load workers: spawns them pinned to the load core and sends them typed commands. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackChild } from '../children.js';
import { processCpuMicros, processRunQueueWaitMicros } from '../server-process.js';
import type { Command, Replies, Request, Response } from './commands.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** One load worker process. */
export class LoadWorker {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exitError: Error | null = null;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: Response) => {
      const entry = this.waiting.get(message.id);
      if (!entry) return;
      this.waiting.delete(message.id);
      if (message.ok) entry.resolve(message.result);
      else entry.reject(new Error(`${name}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`load worker ${name} exited (${signal ?? code})`);
      for (const entry of this.waiting.values()) entry.reject(this.exitError);
      this.waiting.clear();
    });
  }

  /** Starts a worker pinned to `core` (taskset execs node, so the pid is the worker's). */
  static spawn(name: string, core: number): LoadWorker {
    const child = spawn('taskset', ['-c', String(core), process.execPath, WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    trackChild(child);
    return new LoadWorker(name, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  cpuMicros(): number {
    try {
      return processCpuMicros(this.pid);
    } catch {
      return 0;
    }
  }

  runQueueWaitMicros(): number {
    try {
      return processRunQueueWaitMicros(this.pid);
    } catch {
      return 0;
    }
  }

  /** Sends a command; rejects if the worker fails it, exits, or takes longer than `timeoutMs`. */
  request<C extends Command>(command: C, timeoutMs: number): Promise<Replies[C['cmd']]> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<Replies[C['cmd']]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${command.cmd} took longer than ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as Replies[C['cmd']]);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const request: Request = { id, command };
      this.child.send(request);
    });
  }

  /** Ends the worker (its sockets close with it). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Load workers for one scenario run, and their combined CPU time. */
export class LoadPool {
  readonly workers: LoadWorker[] = [];

  constructor(private readonly core: number) {}

  spawn(name: string): LoadWorker {
    const worker = LoadWorker.spawn(name, this.core);
    this.workers.push(worker);
    return worker;
  }

  /** CPU time used so far by every worker, in microseconds. */
  cpuMicros(): number {
    return this.workers.reduce((sum, worker) => sum + worker.cpuMicros(), 0);
  }

  /** Run-queue wait of every worker's main thread so far, in microseconds. */
  runQueueWaitMicros(): number {
    return this.workers.reduce((sum, worker) => sum + worker.runQueueWaitMicros(), 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
  }
}
