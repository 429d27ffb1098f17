/** The flags of `npm run bench` (bench/run.ts). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AppCredentials } from './server-process.js';
import type { Sizes } from './scenarios/context.js';

export const SCENARIOS = ['fan-out', 'per-user', 'inbox', 'idle', 'churn', 'fan-out-redis'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  readonly scenarios: readonly ScenarioName[];
  /** An external server instead of starting Herald. */
  readonly target: { host: string; port: number; app: AppCredentials; pid: number | null } | null;
  readonly floor: boolean;
  readonly serverCore: number;
  readonly loadCore: number;
  readonly subscriberWorkers: number;
  readonly sizes: Sizes;
  /** Directory for the servers' CPU profiles (`--cpu-prof`), or null. */
  readonly cpuProfDir: string | null;
  readonly outDir: string;
  readonly maxMinutes: number;
  /** Other Herald builds to run next to this one (their `dist/src/cli.js`), each under its name. */
  readonly baselines: readonly { readonly name: string; readonly cli: string }[];
  /** Times each scenario run is repeated, the servers' order rotating from one round to the next. */
  readonly repeat: number;
  /** A PostgreSQL server (any database URL on it) for the inbox scenario's PostgreSQL rows, or null. */
  readonly inboxPostgres: string | null;
  /** Where to write the fan-out latency plot (SVG), or null for `<out>/bench-<time>.svg`. */
  readonly plot: string | null;
}

export const USAGE = `Usage: npm run bench -- [options]      (or: taskset -c 1 node dist/bench/run.js [options])

Runs the scenarios against Herald (started here, pinned to --server-core) and against the floor
server (bench/floor-server.ts, same pinning); the load runs in worker processes on --load-core.

  --scenario LIST           comma-separated: ${SCENARIOS.join(', ')} (default: all)
  --target HOST:PORT        benchmark a running Pusher-compatible server instead of starting Herald
  --app ID:KEY:SECRET       its app credentials (required with --target)
  --target-pid PID          its process id, to read CPU and RSS from /proc (else those are n/a)
  --no-floor                do not run the floor server for comparison
  --baseline [NAME=]PATH    also run another Herald build (a checkout with dist/, or its dist/src/cli.js),
                            as server NAME (default "herald-baseline"), interleaved with this one:
                            before/after in one run. Repeat the flag to compare several builds
  --repeat N                run every scenario N times, rotating the servers' order each round (default 1);
                            the report adds medians and min-max spreads
  --server-core N           core for the servers started here (default 0)
  --load-core N             core for the load workers (default 1)
  --workers N               load worker processes holding subscriber sockets (default 1)
  --duration S              seconds of events per fixed-rate run (default 10)
  --payload BYTES           event data size (default 100)
  --fanout-subscribers N    fan-out sockets (default 2000)
  --fanout-rates LIST       fan-out events/s, one run each (default 20,200)
                            (fan-out-redis uses both: 1 node, then 2 nodes through the Redis at
                            $HERALD_BENCH_REDIS_URL, default redis://127.0.0.1:6379)
  --per-user-users N        per-user sockets/channels (default 2000)
  --per-user-rate N         per-user events/s in total (default 2000)
  --batch N                 events per batch_events request (default 10)
  --inbox-users N           users of the inbox push (default 10000)
  --inbox-pushes N          sequential single-user pushes (default 300)
  --inbox-postgres URL      also run the inbox scenario on PostgreSQL: every Herald build gets a fresh
                            database created on that server (dropped afterwards), as server NAME+pg
                            (default: $HERALD_BENCH_DATABASE_URL if set, else SQLite only)
  --idle-connections N      idle sockets (default 10000)
  --churn-subscribers N     steady sockets of the churn fan-out (default 500)
  --churn-rate N            churn fan-out events/s (default 20)
  --churn-connects N        connects (and disconnects) per second (default 100)
  --churn-hold-ms MS        how long a churn socket stays subscribed (default 0)
  --quick                   small sizes, for a smoke test (about a minute)
  --cpu-prof                write V8 CPU profiles of every server started here to bench/results/profiles/
  --out DIR                 results directory (default bench/results)
  --plot FILE               the fan-out latency-vs-load plot (SVG), written when fan-out ran at 2+ rates
                            (default: <out>/bench-<time>.svg)
  --max-minutes N           abort the whole run after this long (default 15)
  -h, --help                this text`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`--${name} must be a positive integer, not ${value}`);
  return number;
}

function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new Error(`--${name} must be a non-negative integer, not ${value}`);
  return number;
}

function parseTarget(target: string, app: string | undefined, pid: string | undefined): NonNullable<Options['target']> {
  const match = /^(.+):(\d+)$/.exec(target);
  if (!match) throw new Error(`--target must be HOST:PORT, not ${target}`);
  if (!app) throw new Error('--target needs --app ID:KEY:SECRET');
  const parts = app.split(':');
  if (parts.length !== 3 || parts.some((part) => part.length === 0)) throw new Error('--app must be ID:KEY:SECRET');
  return { host: match[1], port: Number(match[2]), app: { id: parts[0], key: parts[1], secret: parts[2] }, pid: pid === undefined ? null : positiveInt('target-pid', pid, 0) };
}

/** The `cli.js` of a Herald build given as a checkout directory or as the file itself. */
function baselineCli(path: string): string {
  const cli = path.endsWith('.js') ? resolve(path) : resolve(path, 'dist/src/cli.js');
  if (!existsSync(cli)) throw new Error(`--baseline: ${cli} does not exist (build that checkout first)`);
  return cli;
}

/** Parses argv; null when help was asked for. Throws with a message on bad flags. */
export function parseOptions(argv: readonly string[]): Options | null {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      scenario: { type: 'string' },
      target: { type: 'string' },
      app: { type: 'string' },
      'target-pid': { type: 'string' },
      'no-floor': { type: 'boolean' },
      'server-core': { type: 'string' },
      'load-core': { type: 'string' },
      workers: { type: 'string' },
      duration: { type: 'string' },
      payload: { type: 'string' },
      'fanout-subscribers': { type: 'string' },
      'fanout-rates': { type: 'string' },
      'per-user-users': { type: 'string' },
      'per-user-rate': { type: 'string' },
      batch: { type: 'string' },
      'inbox-users': { type: 'string' },
      'inbox-pushes': { type: 'string' },
      'inbox-postgres': { type: 'string' },
      'idle-connections': { type: 'string' },
      'churn-subscribers': { type: 'string' },
      'churn-rate': { type: 'string' },
      'churn-connects': { type: 'string' },
      'churn-hold-ms': { type: 'string' },
      quick: { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      out: { type: 'string' },
      'max-minutes': { type: 'string' },
      baseline: { type: 'string', multiple: true },
      repeat: { type: 'string' },
      plot: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const scenarios = (values.scenario ?? SCENARIOS.join(',')).split(',').map((name) => name.trim());
  for (const name of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario ${name}; choose from ${SCENARIOS.join(', ')}`);
  }
  if (values.app && !values.target) throw new Error('--app is for --target');
  const quick = values.quick === true;
  const rates = (values['fanout-rates'] ?? (quick ? '20' : '20,200')).split(',').map((rate) => positiveInt('fanout-rates', rate.trim(), 0));
  const sizes: Sizes = {
    durationS: positiveInt('duration', values.duration, quick ? 3 : 10),
    payloadBytes: positiveInt('payload', values.payload, 100),
    fanOutSubscribers: positiveInt('fanout-subscribers', values['fanout-subscribers'], quick ? 200 : 2000),
    fanOutRates: rates,
    perUserUsers: positiveInt('per-user-users', values['per-user-users'], quick ? 200 : 2000),
    perUserRate: positiveInt('per-user-rate', values['per-user-rate'], quick ? 200 : 2000),
    batchSize: positiveInt('batch', values.batch, 10),
    inboxUsers: positiveInt('inbox-users', values['inbox-users'], quick ? 500 : 10_000),
    inboxPushes: positiveInt('inbox-pushes', values['inbox-pushes'], quick ? 50 : 300),
    idleConnections: positiveInt('idle-connections', values['idle-connections'], quick ? 500 : 10_000),
    churnSubscribers: positiveInt('churn-subscribers', values['churn-subscribers'], quick ? 100 : 500),
    churnEventRate: positiveInt('churn-rate', values['churn-rate'], 20),
    churnConnectRate: positiveInt('churn-connects', values['churn-connects'], quick ? 20 : 100),
    churnHoldMs: nonNegativeInt('churn-hold-ms', values['churn-hold-ms'], 0),
  };
  const serverCore = nonNegativeInt('server-core', values['server-core'], 0);
  const loadCore = nonNegativeInt('load-core', values['load-core'], 1);
  if (serverCore === loadCore) throw new Error('--server-core and --load-core must differ: the load must not compete with the server');
  const outDir = values.out ?? 'bench/results';
  return {
    scenarios: scenarios as ScenarioName[],
    target: values.target ? parseTarget(values.target, values.app, values['target-pid']) : null,
    floor: values['no-floor'] !== true,
    inboxPostgres: values['inbox-postgres'] ?? process.env.HERALD_BENCH_DATABASE_URL ?? null,
    serverCore,
    loadCore,
    subscriberWorkers: positiveInt('workers', values.workers, 1),
    sizes,
    cpuProfDir: values['cpu-prof'] ? `${outDir}/profiles` : null,
    outDir,
    maxMinutes: positiveInt('max-minutes', values['max-minutes'], 15),
    baselines: (values.baseline ?? []).map((spec, i, all) => {
      const named = /^([a-z][a-z0-9-]*)=(.+)$/.exec(spec);
      return { name: named ? named[1] : all.length === 1 ? 'herald-baseline' : `herald-baseline-${i + 1}`, cli: baselineCli(named ? named[2] : spec) };
    }),
    repeat: positiveInt('repeat', values.repeat, 1),
    plot: values.plot ?? null,
  };
}
