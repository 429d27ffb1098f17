/** The real server process (`node dist/src/cli.js start ...`) for crash and restart tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep } from './wait.js';

/** dist/src/cli.js, next to the compiled tests. */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** A running server process. */
export interface HeraldProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the process wrote to stderr (for failure messages). */
  stderr(): string;
  /** Sends SIGKILL and waits (bounded) for the exit. */
  kill(): Promise<void>;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The environment without any HERALD_* setting of the outer shell, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('HERALD_')) env[key] = value;
  return { ...env, HERALD_LOG_LEVEL: 'silent', ...extra };
}

/**
 * Starts `herald start` on a free loopback port with the given database and waits until
 * `GET /health` answers (at most `timeoutMs`). Every process started is added to `tracker`.
 */
export async function startHeraldProcess(options: {
  databaseUrl: string;
  env?: Record<string, string>;
  tracker: Set<ChildProcess>;
  timeoutMs?: number;
}): Promise<HeraldProcess> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'start', '--host', '127.0.0.1', '--port', String(port), '--database-url', options.databaseUrl, '--log-level', 'silent'],
      { env: cleanEnv(options.env ?? {}), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    options.tracker.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        options.tracker.delete(child);
        resolve({ code, signal });
      });
    });
    let gone = false;
    void exited.then(() => (gone = true));
    const baseUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + timeoutMs;
    let healthy = false;
    while (!gone && Date.now() < deadline) {
      try {
        const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.ok) {
          healthy = true;
          break;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(25);
    }
    const kill = async () => {
      if (!gone) child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`herald process ${child.pid} did not exit within 5 s of SIGKILL`)), 5_000);
      });
      try {
        await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    if (healthy) return { child, port, baseUrl, exited, stderr: () => stderr, kill };
    await kill();
    // The port may have been taken between probing and binding: try another once or twice.
    if (attempt < 2 && /EADDRINUSE/.test(stderr)) continue;
    throw new Error(`herald did not become healthy within ${timeoutMs} ms; stderr:\n${stderr}`);
  }
}
