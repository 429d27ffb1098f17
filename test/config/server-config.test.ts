import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../src/config/apps.js';
import { DEFAULT_APP, loadConfig, SETTINGS, settingsFromEnv, type RawSettings, type SettingName } from '../../src/config/server-config.js';

const noFile = (path: string): string => {
  throw new Error(`unexpected read of ${path}`);
};

/** Asserts that loading throws a ConfigError whose message matches every pattern. */
function configError(raw: RawSettings, ...patterns: RegExp[]): void {
  assert.throws(
    () => loadConfig(raw, noFile),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('SETTINGS', () => {
  it('gives every setting a distinct HERALD_ variable and a distinct flag', () => {
    const specs = Object.values(SETTINGS);
    assert.equal(new Set(specs.map((spec) => spec.env)).size, specs.length);
    assert.equal(new Set(specs.map((spec) => spec.flag)).size, specs.length);
    for (const spec of specs) {
      assert.match(spec.env, /^HERALD_[A-Z_]+$/);
      assert.match(spec.flag, /^[a-z]+(-[a-z]+)*$/);
      assert.ok(spec.help.length > 0);
    }
  });
});

describe('settingsFromEnv', () => {
  it('reads each setting from its variable, ignoring unset and empty ones and unrelated variables', () => {
    const raw = settingsFromEnv({
      HERALD_PORT: '7000',
      HERALD_HOST: '',
      HERALD_APP_CLIENT_EVENTS: 'true',
      HERALD_LOG_LEVEL: 'debug',
      HERALD_UNKNOWN: 'x',
      PORT: '80',
    });
    assert.deepEqual(raw, { port: '7000', clientEvents: 'true', logLevel: 'debug' });
  });

  it('maps every variable back to its setting', () => {
    for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
      assert.deepEqual(settingsFromEnv({ [spec.env]: 'v' }), { [name]: 'v' });
    }
  });
});

describe('loadConfig: defaults', () => {
  it('fills every default and flags the published default credentials', () => {
    const config = loadConfig({}, noFile);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 6001);
    assert.equal(config.appsFile, null);
    assert.equal(config.databaseUrl, 'sqlite:./data/herald.db');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.activityTimeoutSeconds, 120);
    assert.equal(config.maxConnections, null);
    assert.equal(config.shutdownTimeoutMs, 10_000);
    assert.equal(config.apps.length, 1);
    const [app] = config.apps;
    assert.deepEqual([app.id, app.key, app.secret, app.clientEvents], [DEFAULT_APP.id, DEFAULT_APP.key, DEFAULT_APP.secret, false]);
    assert.equal(config.usingDefaultCredentials, true);
  });

  it('no longer flags default credentials once the secret is changed', () => {
    assert.equal(loadConfig({ appSecret: 'a-real-secret' }, noFile).usingDefaultCredentials, false);
  });

  it('still flags the default secret when only the id and key are changed', () => {
    assert.equal(loadConfig({ appId: 'mine', appKey: 'my-key' }, noFile).usingDefaultCredentials, true);
  });
});

describe('loadConfig: values', () => {
  it('converts every setting', () => {
    const config = loadConfig(
      {
        host: '127.0.0.1',
        port: '7001',
        appId: 'id1',
        appKey: 'key1',
        appSecret: 'secret1',
        clientEvents: true,
        databaseUrl: 'sqlite::memory:',
        logLevel: 'warn',
        activityTimeout: '30',
        maxConnections: '5000',
        shutdownTimeout: '3',
      },
      noFile,
    );
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 7001);
    assert.deepEqual([config.apps[0].id, config.apps[0].key, config.apps[0].secret, config.apps[0].clientEvents], ['id1', 'key1', 'secret1', true]);
    assert.equal(config.databaseUrl, 'sqlite::memory:');
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.activityTimeoutSeconds, 30);
    assert.equal(config.maxConnections, 5000);
    assert.equal(config.shutdownTimeoutMs, 3000);
  });

  it('reads the PostgreSQL timeouts in milliseconds, with defaults, and refuses out-of-range ones', () => {
    assert.deepEqual(loadConfig({}, noFile).databaseTimeouts, { connectTimeoutMs: 5000, statementTimeoutMs: 10000 });
    const config = loadConfig({ databaseConnectTimeout: '1500', databaseStatementTimeout: '30000' }, noFile);
    assert.deepEqual(config.databaseTimeouts, { connectTimeoutMs: 1500, statementTimeoutMs: 30000 });
    assert.throws(() => loadConfig({ databaseConnectTimeout: '0' }, noFile), /HERALD_DATABASE_CONNECT_TIMEOUT_MS \/ --database-connect-timeout-ms/);
    assert.throws(() => loadConfig({ databaseStatementTimeout: 'soon' }, noFile), /HERALD_DATABASE_STATEMENT_TIMEOUT_MS \/ --database-statement-timeout-ms/);
  });

  it('accepts a bare file path as the database url', () => {
    assert.equal(loadConfig({ databaseUrl: './herald.db' }, noFile).databaseUrl, './herald.db');
  });

  it('reads booleans from flags and from the accepted words', () => {
    for (const [value, expected] of [
      [true, true],
      [false, false],
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const) {
      assert.equal(loadConfig({ clientEvents: value }, noFile).apps[0].clientEvents, expected, String(value));
    }
  });

  it('accepts the bounds of numeric settings and surrounding whitespace', () => {
    assert.equal(loadConfig({ port: '0' }, noFile).port, 0);
    assert.equal(loadConfig({ port: '65535' }, noFile).port, 65535);
    assert.equal(loadConfig({ port: ' 8080 ' }, noFile).port, 8080);
    assert.equal(loadConfig({ activityTimeout: '1' }, noFile).activityTimeoutSeconds, 1);
    assert.equal(loadConfig({ activityTimeout: '3600' }, noFile).activityTimeoutSeconds, 3600);
  });

  it('takes whatever merge the caller made: flags spread over the environment win', () => {
    const env = settingsFromEnv({ HERALD_PORT: '7000', HERALD_HOST: '10.0.0.1', HERALD_APP_CLIENT_EVENTS: 'true', HERALD_LOG_LEVEL: 'debug' });
    const flags: RawSettings = { port: '8000', clientEvents: false };
    const config = loadConfig({ ...env, ...flags }, noFile);
    assert.equal(config.port, 8000);
    assert.equal(config.apps[0].clientEvents, false);
    // Settings only in the environment still apply.
    assert.equal(config.host, '10.0.0.1');
    assert.equal(config.logLevel, 'debug');
  });
});

describe('loadConfig: bad values name the variable and the flag', () => {
  const cases: [RawSettings, RegExp][] = [
    [{ port: '65536' }, /HERALD_PORT \/ --port: /],
    [{ port: '-1' }, /HERALD_PORT \/ --port: /],
    [{ port: 'http' }, /HERALD_PORT \/ --port: /],
    [{ port: '80.5' }, /HERALD_PORT \/ --port: /],
    [{ host: '' }, /HERALD_HOST \/ --host: /],
    [{ host: true }, /HERALD_HOST \/ --host: /],
    [{ appId: '' }, /HERALD_APP_ID \/ --app-id: /],
    [{ appKey: '' }, /HERALD_APP_KEY \/ --app-key: /],
    [{ appSecret: '' }, /HERALD_APP_SECRET \/ --app-secret: /],
    [{ clientEvents: 'maybe' }, /HERALD_APP_CLIENT_EVENTS \/ --client-events: /],
    [{ databaseUrl: 'mysql://localhost/herald' }, /HERALD_DATABASE_URL \/ --database-url: must be sqlite:PATH/],
    [{ logLevel: 'loud' }, /HERALD_LOG_LEVEL \/ --log-level: /],
    [{ activityTimeout: '0' }, /HERALD_ACTIVITY_TIMEOUT \/ --activity-timeout: /],
    [{ activityTimeout: '3601' }, /HERALD_ACTIVITY_TIMEOUT \/ --activity-timeout: /],
    [{ maxConnections: '0' }, /HERALD_MAX_CONNECTIONS \/ --max-connections: /],
    [{ shutdownTimeout: 'soon' }, /HERALD_SHUTDOWN_TIMEOUT \/ --shutdown-timeout: /],
    [{ appsFile: '' }, /HERALD_APPS_FILE \/ --apps-file: /],
    [{ databaseUrl: '' }, /HERALD_DATABASE_URL \/ --database-url: needs a path/],
    [{ databaseUrl: 'sqlite:' }, /HERALD_DATABASE_URL \/ --database-url: needs a path/],
    [{ databaseUrl: 'sqlite: ' }, /HERALD_DATABASE_URL \/ --database-url: needs a path/],
  ];
  for (const [raw, pattern] of cases) {
    it(`rejects ${JSON.stringify(raw)}`, () => configError(raw, pattern));
  }

  it('lists every bad setting', () => {
    configError({ port: 'x', logLevel: 'loud' }, /HERALD_PORT \/ --port: /, /HERALD_LOG_LEVEL \/ --log-level: /);
  });

  it('rejects an empty or blank number (e.g. `--port=`) instead of reading it as 0', () => {
    configError({ port: '' }, /HERALD_PORT \/ --port: /);
    configError({ port: '  ' }, /HERALD_PORT \/ --port: /);
    configError({ maxConnections: '' }, /HERALD_MAX_CONNECTIONS \/ --max-connections: /);
  });

  it('rejects a boolean for a numeric setting instead of reading it as 1', () => {
    configError({ port: true }, /HERALD_PORT \/ --port: /);
    configError({ activityTimeout: true }, /HERALD_ACTIVITY_TIMEOUT \/ --activity-timeout: /);
  });

  it('rejects hexadecimal and exponent notation', () => {
    configError({ port: '0x1F90' }, /HERALD_PORT \/ --port: /);
    configError({ port: '8e3' }, /HERALD_PORT \/ --port: /);
    configError({ shutdownTimeout: 'Infinity' }, /HERALD_SHUTDOWN_TIMEOUT \/ --shutdown-timeout: /);
  });

  it('parses exactly the decimal integers in range, for any input string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -10, max: 70_000 }).map(String)), (text) => {
        const trimmed = text.trim();
        const valid = /^\d+$/.test(trimmed) && Number(trimmed) <= 65535;
        try {
          const { port } = loadConfig({ port: text }, noFile);
          return valid && port === Number(trimmed);
        } catch (error) {
          return !valid && error instanceof ConfigError && error.message.startsWith('HERALD_PORT / --port: ');
        }
      }),
    );
  });
});

describe('loadConfig: apps file', () => {
  const appsJson = JSON.stringify({ apps: [{ id: 'a1', key: 'k1', secret: 's1' }, { id: 'a2', key: 'k2', secret: 's2', client_events: true }] });

  it('reads the apps file through the given reader and replaces the default app', () => {
    const read: string[] = [];
    const config = loadConfig({ appsFile: '/etc/herald/apps.json', appId: 'ignored', clientEvents: true }, (path) => {
      read.push(path);
      return appsJson;
    });
    assert.deepEqual(read, ['/etc/herald/apps.json']);
    assert.equal(config.appsFile, '/etc/herald/apps.json');
    assert.deepEqual(
      config.apps.map((app) => [app.id, app.clientEvents]),
      [
        ['a1', false],
        ['a2', true],
      ],
    );
    assert.equal(config.usingDefaultCredentials, false);
  });

  it('flags the default secret inside an apps file too', () => {
    const text = JSON.stringify({ apps: [{ id: 'a1', key: 'k1', secret: 's1' }, { id: 'x', key: 'y', secret: DEFAULT_APP.secret }] });
    assert.equal(loadConfig({ appsFile: 'apps.json' }, () => text).usingDefaultCredentials, true);
  });

  it('names HERALD_APPS_FILE and the path when the file cannot be read', () => {
    assert.throws(
      () =>
        loadConfig({ appsFile: '/missing.json' }, () => {
          throw new Error('ENOENT: no such file');
        }),
      (error: unknown) => error instanceof ConfigError && /^HERALD_APPS_FILE: cannot read \/missing\.json \(ENOENT: no such file\)$/.test(error.message),
    );
  });

  it('names the file and the field when its contents are invalid', () => {
    const bad = JSON.stringify({ apps: [{ id: 'a1', key: 'k1', secret: 's1', max_connections: 0 }] });
    assert.throws(
      () => loadConfig({ appsFile: 'conf/apps.json' }, () => bad),
      (error: unknown) => error instanceof ConfigError && /^conf\/apps\.json\.apps\.0\.max_connections: /.test(error.message),
    );
  });

  it('validates settings before reading the apps file', () => {
    configError({ appsFile: 'apps.json', port: 'x' }, /HERALD_PORT/);
  });
});

describe('loadConfig: default app', () => {
  it('rejects default-app credentials the apps schema refuses, naming the app and field', () => {
    assert.throws(
      () => loadConfig({ appId: 'has space' }, noFile),
      (error: unknown) => error instanceof ConfigError && /^app "has space"\.id: /.test(error.message),
    );
  });
});
