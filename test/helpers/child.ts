/** A Node child process for tests: its output as lines, bounded waits for a line and for its exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait.js';

/** A running `node script ...args`; killed by `kill()` if a test gives up on it. */
export class NodeChild {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;
  private exited = false;
  private readonly process: ChildProcess;

  constructor(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    collectLines(this.process.stdout!, this.stdout);
    collectLines(this.process.stderr!, this.stderr);
    // 'close' comes after the output streams ended, so every line has been collected.
    this.process.once('close', (code, signal) => {
      this.exitCode = code;
      this.signal = signal;
      this.exited = true;
    });
  }

  /** Waits until a stdout line matches; resolves with it. */
  async line(pattern: RegExp, timeoutMs = 5_000): Promise<string> {
    await waitFor(() => this.stdout.some((l) => pattern.test(l)) || this.exited, `a line matching ${pattern} (stdout so far: ${JSON.stringify(this.stdout)}, stderr: ${JSON.stringify(this.stderr)})`, timeoutMs);
    const found = this.stdout.find((l) => pattern.test(l));
    if (found === undefined) throw new Error(`the child exited (${this.exitCode}) without printing ${pattern}; stdout: ${JSON.stringify(this.stdout)}, stderr: ${JSON.stringify(this.stderr)}`);
    return found;
  }

  /** Waits for the process to end by itself; resolves with its exit code. Kills it and rejects after `timeoutMs`. */
  async exit(timeoutMs: number): Promise<number | null> {
    try {
      await waitFor(() => this.exited, `the child to exit by itself (stdout: ${JSON.stringify(this.stdout)}, stderr: ${JSON.stringify(this.stderr)})`, timeoutMs);
    } catch (error) {
      this.kill();
      throw error;
    }
    return this.exitCode;
  }

  /** Sends a signal. */
  send(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  /** Kills the process if it still runs. */
  kill(): void {
    if (!this.exited) this.process.kill('SIGKILL');
  }
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts);
  });
  stream.on('end', () => {
    if (rest.length > 0) into.push(rest);
  });
}
