/** Reloading apps in process (what SIGHUP does), and the operator settings of the configuration. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { defineApp } from '../../src/config/apps.js';
import { ConfigError, loadConfig } from '../../src/config/server-config.js';
import { silentLogger } from '../../src/logger.js';
import { applyApps, reloadAppsFile } from '../../src/ops/reload-apps.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { CLI_PATH } from '../helpers/herald-process.js';
import { signedRequest } from '../helpers/http.js';
import type { RawClient } from '../helpers/raw-client.js';

const ONE = { id: 'one-app', key: 'one-key', secret: 'one-secret' };
const TWO = { id: 'two-app', key: 'two-key', secret: 'two-secret' };

describe('applyApps (SIGHUP in process)', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [ONE, TWO] });
  });
  after(() => harness.close());

  async function member(key: string, channel: string): Promise<RawClient> {
    const raw = await harness.raw({ key });
    const { socketId } = await raw.established();
    const app = harness.server.apps.findByKey(key)!;
    const { auth } = harness.backend(app).authorizeChannel(socketId, channel);
    assert.equal((await raw.subscribe(channel, auth)).event, 'pusher_internal:subscription_succeeded');
    return raw;
  }

  it('gives live sockets the new options, applies new limits, closes a disabled app with 4003', async () => {
    const sender = await member(ONE.key, 'private-a');
    const receiver = await member(ONE.key, 'private-a');
    const other = await member(TWO.key, 'private-b');
    sender.send({ event: 'client-x', channel: 'private-a', data: {} });
    assert.equal((await sender.error()).code, 4301);

    const change = applyApps(harness.server.apps, harness.server.realtime, [
      defineApp({ ...ONE, client_events: true, max_read_requests_per_second: 1 }),
      defineApp({ ...TWO, enabled: false }),
    ]);
    assert.deepEqual(change, { added: [], updated: ['one-app', 'two-app'], removed: [], unchanged: [] });

    sender.send({ event: 'client-x', channel: 'private-a', data: { n: 1 } });
    assert.deepEqual((await receiver.next('client-x')).data, { n: 1 });
    assert.equal((await other.error()).code, 4003);
    assert.equal((await other.closedWithin()).code, 4003);
    const app = harness.server.apps.findById(ONE.id)!;
    assert.equal((await signedRequest(harness.baseUrl, app, { method: 'GET', path: '/channels' })).status, 200);
    assert.equal((await signedRequest(harness.baseUrl, app, { method: 'GET', path: '/channels' })).status, 429, 'the new read limit applies at once');
    assert.equal(sender.closeState, null);
    sender.close();
    receiver.close();
  });

  it('keeps the running apps when the file cannot be read or does not validate', () => {
    const before = harness.server.apps.all();
    const files: Record<string, string> = { '/bad.json': JSON.stringify({ apps: [{ ...ONE, max_backend_events_per_second: -1 }] }) };
    const read = (path: string) => {
      if (!(path in files)) throw new Error(`ENOENT: ${path}`);
      return files[path];
    };
    const { realtime, apps } = harness.server;
    assert.equal(reloadAppsFile(apps, realtime, '/missing.json', silentLogger(), read), false);
    assert.equal(reloadAppsFile(apps, realtime, '/bad.json', silentLogger(), read), false);
    assert.deepEqual(apps.all(), before);
  });
});

describe('operator settings', () => {
  it('reads the metrics port from the environment or the flag, and names the setting when it is wrong', () => {
    assert.equal(loadConfig({}).metricsPort, null);
    assert.equal(loadConfig({ metricsPort: '9601' }).metricsPort, 9601);
    for (const [raw, pattern] of [
      [{ metricsPort: 'abc' }, /^HERALD_METRICS_PORT \/ --metrics-port: must be a whole number/],
      [{ metricsPort: '70000' }, /^HERALD_METRICS_PORT \/ --metrics-port: /],
      [{ port: '7000', metricsPort: '7000' }, /^HERALD_METRICS_PORT \/ --metrics-port: must differ from the main port/],
    ] as const) {
      assert.throws(() => loadConfig(raw), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
    }
  });

  it('validates the rate limits of the apps file, naming the field; null means no limit', () => {
    const file = (options: Record<string, unknown>) => () => JSON.stringify({ apps: [{ ...ONE, ...options }] });
    const config = loadConfig({ appsFile: 'apps.json' }, file({ max_backend_events_per_second: null, max_read_requests_per_second: 2.5 }));
    assert.equal(config.apps[0].maxBackendEventsPerSecond, null);
    assert.equal(config.apps[0].maxReadRequestsPerSecond, 2.5);
    assert.equal(loadConfig({ appsFile: 'apps.json' }, file({})).apps[0].maxBackendEventsPerSecond, null, 'off by default, as on Pusher');
    assert.equal(loadConfig({ appsFile: 'apps.json' }, file({})).apps[0].maxReadRequestsPerSecond, null);
    assert.equal(loadConfig({ appsFile: 'apps.json' }, file({ max_backend_events_per_second: 1000 })).apps[0].maxBackendEventsPerSecond, 1000);
    assert.throws(
      () => loadConfig({ appsFile: 'apps.json' }, file({ max_read_requests_per_second: 0 })),
      (error: unknown) => error instanceof ConfigError && /apps\.json\.apps\.0\.max_read_requests_per_second: /.test(error.message),
    );
    assert.throws(
      () => loadConfig({ appsFile: 'apps.json' }, file({ max_backend_events_per_second: '1000' })),
      (error: unknown) => error instanceof ConfigError && /apps\.json\.apps\.0\.max_backend_events_per_second: /.test(error.message),
    );
  });

  it('lists --metrics-port and --shutdown-timeout in --help', () => {
    const help = execFileSync(process.execPath, [CLI_PATH, '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.match(help, /--metrics-port <value>/);
    assert.match(help, /HERALD_METRICS_PORT/);
    assert.match(help, /--shutdown-timeout <value>/);
    assert.match(help, /rate limits are off\s+by default/);
  });
});
