#!/usr/bin/env node
/** The `herald` command: `herald start [flags]`, `herald --help`. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, SETTINGS, settingsFromEnv, type RawSettings, type SettingName } from './config/server-config.js';
import { startNode } from './start.js';
import { isWorker, startPrimary } from './workers.js';

function usage(): string {
  const lines = Object.values(SETTINGS).map((spec) => {
    const flag = spec.type === 'boolean' ? `--${spec.flag}` : `--${spec.flag} <value>`;
    return `  ${flag.padEnd(30)} ${spec.help}\n  ${''.padEnd(30)} env ${spec.env}`;
  });
  return [
    'Herald: a Pusher-compatible real-time server with a durable per-user inbox.',
    '',
    'Usage: herald start [options]',
    '       herald --help',
    '',
    'Options (flags override HERALD_* environment variables):',
    ...lines,
    '  -h, --help                     Show this help',
    '',
    'Per-app options live in the apps file (HERALD_APPS_FILE). Backend and read rate limits are off',
    'by default, as on Pusher: set max_backend_events_per_second / max_read_requests_per_second there.',
  ].join('\n');
}

function parseFlags(argv: string[]): { command: string | undefined; flags: RawSettings; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const spec of Object.values(SETTINGS)) options[spec.flag] = { type: spec.type };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const flags: RawSettings = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const value = values[spec.flag];
    if (value !== undefined) flags[name] = value as string | boolean;
  }
  return { command: positionals[0], flags, help: values.help === true };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseFlags(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`herald: ${(error as Error).message}\n\n${usage()}\n`);
    process.exit(2);
  }
  if (parsed.help || parsed.command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  if (parsed.command !== 'start') {
    process.stderr.write(`herald: unknown command ${parsed.command ?? '(none)'}\n\n${usage()}\n`);
    process.exit(2);
  }
  try {
    const config = loadConfig({ ...settingsFromEnv(process.env), ...parsed.flags });
    if (config.workers > 1 && !isWorker()) await startPrimary(config);
    else await startNode(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`herald: invalid configuration: ${error.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`herald: could not start: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  }
}

await main();
