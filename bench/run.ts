/**
 * `npm run bench`: runs the benchmark scenarios against Herald and the floor server (or against
 * any Pusher-compatible server given with --target), each server pinned to one core and the load
 * in worker processes on another, and reports JSON (bench/results/ and stdout) and a markdown
 * table. `node dist/bench/run.js --help` lists the flags.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { installCleanup, killAllChildren } from './children.js';
import { currentLoad, machineInfo } from './machine.js';
import { parseOptions, USAGE, type Options, type ScenarioName } from './options.js';
import { floorRatios, markdownTable, spreads, spreadTable, writeReport, type RunReport } from './report.js';
import { runChurnScenario } from './scenarios/churn.js';
import type { ScenarioContext, ScenarioResult, ServerUnderTest } from './scenarios/context.js';
import { runFanOut } from './scenarios/fan-out.js';
import { runFanOutRedis } from './scenarios/fan-out-redis.js';
import { runIdle } from './scenarios/idle.js';
import { runInbox } from './scenarios/inbox.js';
import { runPerUser } from './scenarios/per-user.js';
import { createBenchDatabase } from './postgres-database.js';
import { startFloorProcess, startHeraldProcess } from './server-process.js';

/** A server the runner can start (fresh for every scenario run) or attach to. */
interface ServerKind {
  readonly name: string;
  /** Whether it has Herald's inbox API. */
  readonly inbox: boolean;
  /** Runs the inbox scenario only (Herald on PostgreSQL). */
  readonly inboxOnly?: boolean;
  start(runName: string): Promise<ServerUnderTest & { stop(): Promise<void> }>;
}

function serverKinds(options: Options): ServerKind[] {
  const kinds: ServerKind[] = [];
  const target = options.target;
  if (target) {
    kinds.push({
      name: 'target',
      inbox: true,
      start: async () => ({ name: 'target', address: { host: target.host, port: target.port, app: target.app }, pid: target.pid, stop: async () => undefined }),
    });
  } else {
    const herald = (name: string, cli: string | undefined): ServerKind => ({
      name,
      inbox: true,
      async start(runName) {
        const server = await startHeraldProcess({ core: options.serverCore, nodeArgs: profileArgs(options, name, runName), cli });
        return { name, address: { host: server.host, port: server.port, app: server.app }, pid: server.pid, stop: () => server.stop() };
      },
    });
    // The same build on a fresh PostgreSQL database: inbox scenario only.
    const heraldOnPostgres = (name: string, cli: string | undefined, serverUrl: string): ServerKind => ({
      name: `${name}+pg`,
      inbox: true,
      inboxOnly: true,
      async start(runName) {
        const database = await createBenchDatabase(serverUrl);
        try {
          const server = await startHeraldProcess({ core: options.serverCore, nodeArgs: profileArgs(options, `${name}+pg`, runName), cli, databaseUrl: database.url });
          return {
            name: `${name}+pg`,
            address: { host: server.host, port: server.port, app: server.app },
            pid: server.pid,
            stop: async () => {
              await server.stop();
              await database.drop();
            },
          };
        } catch (error) {
          await database.drop();
          throw error;
        }
      },
    });
    kinds.push(herald('herald', undefined));
    for (const baseline of options.baselines) kinds.push(herald(baseline.name, baseline.cli));
    if (options.inboxPostgres && options.scenarios.includes('inbox')) {
      kinds.push(heraldOnPostgres('herald', undefined, options.inboxPostgres));
      for (const baseline of options.baselines) kinds.push(heraldOnPostgres(baseline.name, baseline.cli, options.inboxPostgres));
    }
  }
  if (options.floor) {
    kinds.push({
      name: 'floor',
      inbox: false,
      async start(runName) {
        const server = await startFloorProcess({ core: options.serverCore, nodeArgs: profileArgs(options, 'floor', runName) });
        return { name: 'floor', address: { host: server.host, port: server.port, app: server.app }, pid: server.pid, stop: () => server.stop() };
      },
    });
  }
  return kinds;
}

/** Node flags that write a V8 CPU profile of the server's run, with `--cpu-prof`. */
function profileArgs(options: Options, server: string, runName: string): string[] {
  if (!options.cpuProfDir) return [];
  // Sampled every 250 µs rather than V8's 1 ms: a request's work is a fraction of a millisecond.
  return ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${resolve(options.cpuProfDir)}`, `--cpu-prof-name=${server}-${runName}.cpuprofile`];
}

/** The runs of a scenario: one per fan-out rate, one otherwise. */
function runsOf(name: ScenarioName, options: Options): { id: string; run: (ctx: ScenarioContext) => Promise<ScenarioResult | ScenarioResult[]> }[] {
  switch (name) {
    case 'fan-out':
      return options.sizes.fanOutRates.map((rate) => ({ id: `fan-out-${rate}`, run: (ctx) => runFanOut(ctx, rate) }));
    case 'fan-out-redis':
      return options.sizes.fanOutRates.map((rate) => ({ id: `fan-out-redis-${rate}`, run: (ctx) => runFanOutRedis(ctx, rate) }));
    case 'per-user':
      return [{ id: 'per-user', run: runPerUser }];
    case 'inbox':
      return [{ id: 'inbox', run: runInbox }];
    case 'idle':
      return [{ id: 'idle', run: runIdle }];
    case 'churn':
      return [{ id: 'churn', run: runChurnScenario }];
  }
}

const startedMs = performance.now();
function log(message: string): void {
  const seconds = Math.round((performance.now() - startedMs) / 1000);
  process.stderr.write(`[bench ${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}] ${message}\n`);
}

/** Pins this process (all its threads) to the load core, so that even the runner stays off the server's core. */
function pinSelf(core: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
  } catch {
    log(`could not pin the runner to core ${core} (taskset failed); the servers and workers are still pinned`);
  }
}

async function main(): Promise<number> {
  let options: Options | null;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  installCleanup();
  pinSelf(options.loadCore);
  const deadline = setTimeout(() => {
    log(`the run took longer than ${options.maxMinutes} minutes: aborting`);
    killAllChildren();
    process.exit(1);
  }, options.maxMinutes * 60_000);

  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  log(`${machine.nproc} cores (${machine.cpu_model}), Node ${machine.node}; load: ${machine.uptime}`);
  const kinds = serverKinds(options);
  const results: ScenarioResult[] = [];
  const errors: RunReport['errors'] = [];
  for (const scenario of options.scenarios) {
    for (const { id, run } of runsOf(scenario, options)) {
      for (let round = 0; round < options.repeat; round++) {
        // Rotating the order spreads the drift of the machine's load over every server alike.
        for (let k = 0; k < kinds.length; k++) {
          const kind = kinds[(k + round) % kinds.length];
          if (scenario === 'inbox' && !kind.inbox) continue;
          if (scenario !== 'inbox' && kind.inboxOnly) continue;
          // Starts its own pair of Herald nodes next to the runner's one: only with this build's Herald.
          if (scenario === 'fan-out-redis' && kind.name !== 'herald') continue;
          const runName = options.repeat > 1 ? `${id}-r${round + 1}` : id;
          const tag = `${runName} / ${kind.name}`;
          log(`${tag}: starting`);
          let server: (ServerUnderTest & { stop(): Promise<void> }) | null = null;
          try {
            server = await kind.start(runName);
            const ctx: ScenarioContext = { server, sizes: options.sizes, loadCore: options.loadCore, subscriberWorkers: options.subscriberWorkers, log: (message) => log(`${tag}: ${message}`) };
            const outcome = await run(ctx);
            for (const result of Array.isArray(outcome) ? outcome : [outcome]) results.push(options.repeat > 1 ? { ...result, round } : result);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            log(`${tag}: FAILED: ${message}`);
            errors.push({ scenario: runName, server: kind.name, error: message });
          } finally {
            await server?.stop();
          }
        }
      }
    }
  }
  clearTimeout(deadline);

  const report: RunReport = {
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    machine,
    load_at_end: currentLoad(),
    servers: kinds.map((kind) => kind.name),
    server_core: options.serverCore,
    load_core: options.loadCore,
    sizes: options.sizes,
    results,
    ratios_to_floor: floorRatios(results),
    repeat: options.repeat,
    spreads: spreads(results),
    errors,
  };
  const files = writeReport(report, options.outDir, options.plot);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n${markdownTable(report)}\n${report.repeat > 1 ? `\n${spreadTable(report)}\n` : ''}`);
  log(`results: ${files.json} and ${files.markdown}${files.svg ? `, plot: ${files.svg}` : ''}`);
  return errors.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
