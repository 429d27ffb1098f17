import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppRegistry, ConfigError, defineApp, describeIssues, inboxChannel, liveInboxChannel, parseAppsFile, appsFileSchema, type App } from '../../src/config/apps.js';
import { channelNameProblem } from '../../src/protocol/channels.js';
import { DEFAULT_VAPID_SUBJECT } from '../../src/push/push-options.js';
import { DEFAULT_PUSH_RULE } from '../../src/push/rule.js';
import {
  DEFAULT_CLIENT_EVENT_RATE,
  DEFAULT_CLIENT_PUSH_MAX_RECIPIENTS,
  DEFAULT_CLIENT_PUSH_NOTIFICATIONS_PER_MINUTE,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_CHANNELS_PER_TRIGGER,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_PRESENCE_MEMBERS,
  DEFAULT_MAX_PRESENCE_MEMBER_BYTES,
} from '../../src/protocol/limits.js';

const FILE = 'apps.json';
const minimal = { id: 'app-1', key: 'key-1', secret: 'secret-1' };
const file = (...apps: unknown[]) => JSON.stringify({ apps });

/** Asserts that `fn` throws a ConfigError whose message matches every pattern. */
function configError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe('parseAppsFile: defaults', () => {
  it('fills every default for a minimal app', () => {
    const [app] = parseAppsFile(file(minimal), FILE);
    assert.deepEqual(app, {
      id: 'app-1',
      key: 'key-1',
      secret: 'secret-1',
      name: 'app-1',
      enabled: true,
      maxConnections: null,
      maxConnectionsPerIp: null,
      maxChannelsPerConnection: 1000,
      allowedOrigins: null,
      maxEventPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
      maxChannelsPerTrigger: DEFAULT_MAX_CHANNELS_PER_TRIGGER,
      maxBatchEvents: DEFAULT_MAX_BATCH_EVENTS,
      clientEvents: false,
      clientEventRate: DEFAULT_CLIENT_EVENT_RATE,
      maxBackendEventsPerSecond: null,
      maxReadRequestsPerSecond: null,
      authorisedConnections: false,
      subscriptionCount: false,
      maxPresenceMembers: DEFAULT_MAX_PRESENCE_MEMBERS,
      maxPresenceMemberBytes: DEFAULT_MAX_PRESENCE_MEMBER_BYTES,
      allowClientPush: false,
      clientPushMaxRecipients: DEFAULT_CLIENT_PUSH_MAX_RECIPIENTS,
      clientPushNotificationsPerMinute: DEFAULT_CLIENT_PUSH_NOTIFICATIONS_PER_MINUTE,
      inboxChannelTemplate: 'private-{userId}',
      inboxEventName: 'Internal Notification',
      webhooks: [],
      webhookRetryWindowSeconds: 300,
      push: { vapidSubject: DEFAULT_VAPID_SUBJECT, vapidKeys: null, fcm: null, apns: null, defaultRule: DEFAULT_PUSH_RULE },
      categories: {},
    } satisfies App);
  });

  it('matches Pusher\'s published defaults', () => {
    const [app] = parseAppsFile(file(minimal), FILE);
    assert.equal(app.maxEventPayloadBytes, 10240);
    assert.equal(app.maxChannelsPerTrigger, 100);
    assert.equal(app.maxBatchEvents, 10);
    assert.equal(app.clientEventRate, 10);
    assert.equal(app.maxPresenceMembers, 100);
    assert.equal(app.maxPresenceMemberBytes, 1024);
  });

  it('maps every snake_case option to its camelCase field', () => {
    const [app] = parseAppsFile(
      file({
        ...minimal,
        name: 'My app',
        enabled: false,
        max_connections: 50,
        max_connections_per_ip: 20,
        max_channels_per_connection: 300,
        allowed_origins: ['https://App.example.com', 'http://localhost:3000'],
        max_event_payload_bytes: 2048,
        max_channels_per_trigger: 5,
        max_batch_events: 3,
        client_events: true,
        client_event_rate: 2.5,
        max_backend_events_per_second: 50,
        max_read_requests_per_second: null,
        authorised_connections: true,
        subscription_count: true,
        max_presence_members: 7,
        max_presence_member_bytes: 512,
        allow_client_push: true,
        client_push_max_recipients: 3,
        client_push_notifications_per_minute: 30,
        inbox_channel_template: 'private-inbox-{userId}',
        inbox_event_name: 'notify',
        webhooks: [
          {
            url: 'https://example.com/hook',
            events: ['channel_occupied'],
            filter: { channel_name_starts_with: 'private-' },
            headers: { 'x-token': 't' },
          },
        ],
        webhook_retry_window_seconds: 60,
      }),
      FILE,
    );
    assert.deepEqual(app, {
      id: 'app-1',
      key: 'key-1',
      secret: 'secret-1',
      name: 'My app',
      enabled: false,
      maxConnections: 50,
      maxConnectionsPerIp: 20,
      maxChannelsPerConnection: 300,
      allowedOrigins: ['https://app.example.com', 'http://localhost:3000'],
      maxEventPayloadBytes: 2048,
      maxChannelsPerTrigger: 5,
      maxBatchEvents: 3,
      clientEvents: true,
      clientEventRate: 2.5,
      maxBackendEventsPerSecond: 50,
      maxReadRequestsPerSecond: null,
      authorisedConnections: true,
      subscriptionCount: true,
      maxPresenceMembers: 7,
      maxPresenceMemberBytes: 512,
      allowClientPush: true,
      clientPushMaxRecipients: 3,
      clientPushNotificationsPerMinute: 30,
      inboxChannelTemplate: 'private-inbox-{userId}',
      inboxEventName: 'notify',
      webhooks: [
        { url: 'https://example.com/hook', events: ['channel_occupied'], filter: { channel_name_starts_with: 'private-' }, headers: { 'x-token': 't' } },
      ],
      webhookRetryWindowSeconds: 60,
      push: { vapidSubject: DEFAULT_VAPID_SUBJECT, vapidKeys: null, fcm: null, apns: null, defaultRule: DEFAULT_PUSH_RULE },
      categories: {},
    } satisfies App);
  });

  it('accepts several apps and an explicit null max_connections', () => {
    const apps = parseAppsFile(file(minimal, { id: 'app-2', key: 'key-2', secret: 's', max_connections: null }), FILE);
    assert.deepEqual(
      apps.map((app) => [app.id, app.maxConnections]),
      [
        ['app-1', null],
        ['app-2', null],
      ],
    );
  });
});

describe('parseAppsFile: errors name the bad field', () => {
  it('rejects text that is not JSON, naming the file', () => {
    configError(() => parseAppsFile('{"apps": [', FILE), /^apps\.json: not valid JSON/);
  });

  it('rejects a file without apps, or with none', () => {
    configError(() => parseAppsFile('{}', FILE), /apps\.json\.apps: /);
    configError(() => parseAppsFile('[]', FILE), /^apps\.json: /);
    configError(() => parseAppsFile(file(), FILE), /apps\.json\.apps: .*>=1/);
  });

  it('names apps.N.field for bad values', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ max_connections: -1 }, /apps\.json\.apps\.0\.max_connections: /],
      [{ max_connections: 0 }, /apps\.0\.max_connections: /],
      [{ max_connections: 1.5 }, /apps\.0\.max_connections: /],
      [{ max_connections: '10' }, /apps\.0\.max_connections: /],
      [{ enabled: 'yes' }, /apps\.0\.enabled: /],
      [{ client_events: 1 }, /apps\.0\.client_events: /],
      [{ client_event_rate: 0 }, /apps\.0\.client_event_rate: /],
      [{ max_event_payload_bytes: 0 }, /apps\.0\.max_event_payload_bytes: /],
      [{ max_channels_per_trigger: -5 }, /apps\.0\.max_channels_per_trigger: /],
      [{ max_batch_events: 2.5 }, /apps\.0\.max_batch_events: /],
      [{ max_presence_members: 0 }, /apps\.0\.max_presence_members: /],
      [{ max_presence_member_bytes: null }, /apps\.0\.max_presence_member_bytes: /],
      [{ inbox_channel_template: 'private-inbox' }, /apps\.0\.inbox_channel_template: must contain \{userId\}/],
      [{ inbox_event_name: '' }, /apps\.0\.inbox_event_name: /],
      [{ inbox_event_name: 'e'.repeat(201) }, /apps\.0\.inbox_event_name: /],
      [{ webhooks: [{ url: 'not a url' }] }, /apps\.0\.webhooks\.0\.url: /],
      [{ webhooks: [{ url: 'https://x.test', events: [''] }] }, /apps\.0\.webhooks\.0\.events\.0: /],
      [{ webhooks: {} }, /apps\.0\.webhooks: /],
    ];
    for (const [overrides, pattern] of cases) {
      configError(() => parseAppsFile(file({ ...minimal, ...overrides }), FILE), pattern);
    }
  });

  it('names the index of the bad app', () => {
    configError(() => parseAppsFile(file(minimal, { id: 'app-2', key: 'key-2', secret: 's', max_connections: -1 }), FILE), /apps\.1\.max_connections: /);
  });

  it('rejects missing, empty and malformed credentials', () => {
    configError(() => parseAppsFile(file({ key: 'k', secret: 's' }), FILE), /apps\.0\.id: /);
    configError(() => parseAppsFile(file({ id: 'a', secret: 's' }), FILE), /apps\.0\.key: /);
    configError(() => parseAppsFile(file({ id: 'a', key: 'k' }), FILE), /apps\.0\.secret: /);
    configError(() => parseAppsFile(file({ ...minimal, secret: '' }), FILE), /apps\.0\.secret: /);
    configError(() => parseAppsFile(file({ ...minimal, id: 'has space' }), FILE), /apps\.0\.id: may only contain letters, digits, _, - and \./);
    configError(() => parseAppsFile(file({ ...minimal, key: 'a/b' }), FILE), /apps\.0\.key: may only contain/);
    configError(() => parseAppsFile(file({ ...minimal, id: 3 }), FILE), /apps\.0\.id: /);
  });

  it('lists every problem, not only the first', () => {
    configError(() => parseAppsFile(file({ ...minimal, max_connections: -1, enabled: 'no' }), FILE), /apps\.0\.max_connections: /, /apps\.0\.enabled: /);
  });

  it('rejects unknown keys, naming them and where they are', () => {
    configError(() => parseAppsFile(file({ ...minimal, max_conections: 5 }), FILE), /apps\.json\.apps\.0: .*"max_conections"/);
    configError(() => parseAppsFile(JSON.stringify({ apps: [minimal], version: 2 }), FILE), /^apps\.json: .*"version"/);
    configError(() => parseAppsFile(file({ ...minimal, webhooks: [{ url: 'https://x.test', method: 'PUT' }] }), FILE), /apps\.0\.webhooks\.0: .*"method"/);
    configError(
      () => parseAppsFile(file({ ...minimal, webhooks: [{ url: 'https://x.test', filter: { channel_name_contains: 'a' } }] }), FILE),
      /apps\.0\.webhooks\.0\.filter: .*"channel_name_contains"/,
    );
  });

  it('rejects duplicate ids and duplicate keys, naming the second use', () => {
    configError(() => parseAppsFile(file(minimal, { id: 'app-2', key: 'key-2', secret: 's' }, { id: 'app-1', key: 'key-3', secret: 's' }), FILE), /^apps\.json: apps\.2\.id: "app-1" is used by another app$/);
    configError(() => parseAppsFile(file(minimal, { id: 'app-2', key: 'key-1', secret: 's' }), FILE), /^apps\.json: apps\.1\.key: "key-1" is used by another app$/);
  });

  it('allows an id equal to another app\'s key', () => {
    assert.equal(parseAppsFile(file(minimal, { id: 'key-1', key: 'app-1', secret: 's' }), FILE).length, 2);
  });
});

describe('defineApp', () => {
  it('fills defaults like the apps file does', () => {
    assert.deepEqual(defineApp(minimal), parseAppsFile(file(minimal), FILE)[0]);
  });

  it('throws a ConfigError naming the app and field', () => {
    configError(() => defineApp({ ...minimal, max_connections: 0 }), /^app "app-1"\.max_connections: /);
    configError(() => defineApp({ ...minimal, secret: '' }), /^app "app-1"\.secret: /);
  });

  it('rejects unknown options', () => {
    configError(() => defineApp({ ...minimal, colour: 'blue' } as Parameters<typeof defineApp>[0]), /^app "app-1": .*"colour"/);
  });
});

describe('describeIssues', () => {
  it('joins path segments with dots after `where`, and issues with "; "', () => {
    const result = appsFileSchema.safeParse({ apps: [{ ...minimal, max_batch_events: 0, webhooks: [{ url: 'x' }] }] });
    if (result.success) assert.fail('expected the schema to reject the input');
    const text = describeIssues(result.error, 'where');
    const lines = text.split('; ');
    assert.equal(lines.length, 2);
    assert.ok(lines.some((line) => line.startsWith('where.apps.0.max_batch_events: ')), text);
    assert.ok(lines.some((line) => line.startsWith('where.apps.0.webhooks.0.url: ')), text);
  });

  it('uses `where` alone for issues at the root', () => {
    const result = appsFileSchema.safeParse(null);
    if (result.success) assert.fail('expected the schema to reject null');
    assert.match(describeIssues(result.error, 'root'), /^root: /);
  });
});

describe('AppRegistry', () => {
  const one = defineApp(minimal);
  const two = defineApp({ id: 'app-2', key: 'key-2', secret: 's' });

  it('finds apps by id and by key, and not one by the other', () => {
    const registry = new AppRegistry([one, two]);
    assert.equal(registry.findById('app-1'), one);
    assert.equal(registry.findByKey('key-2'), two);
    assert.equal(registry.findById('key-1'), undefined);
    assert.equal(registry.findByKey('app-1'), undefined);
    assert.equal(registry.findById('missing'), undefined);
    assert.deepEqual(registry.all(), [one, two]);
  });

  it('replaces the whole set on reload', () => {
    const registry = new AppRegistry([one]);
    registry.replace([two]);
    assert.equal(registry.findById('app-1'), undefined);
    assert.equal(registry.findByKey('key-1'), undefined);
    assert.equal(registry.findById('app-2'), two);
    assert.deepEqual(registry.all(), [two]);
  });

  it('does not resolve inherited object properties', () => {
    const registry = new AppRegistry([one]);
    assert.equal(registry.findById('__proto__'), undefined);
    assert.equal(registry.findByKey('constructor'), undefined);
  });
});

describe('inboxChannel', () => {
  it('replaces {userId} in the template', () => {
    assert.equal(inboxChannel(defineApp(minimal), 'u1'), 'private-u1');
    assert.equal(inboxChannel(defineApp({ ...minimal, inbox_channel_template: 'private-inbox-{userId}-feed' }), 'u1'), 'private-inbox-u1-feed');
  });

  it('encodes user ids outside the channel alphabet (design §5), even ones that look like replacement patterns', () => {
    const app = defineApp(minimal);
    for (const userId of ['$&', "$'", '$`', '$$', '$1', 'a$&b']) {
      assert.equal(inboxChannel(app, userId), `private-=${Buffer.from(userId, 'utf8').toString('base64url')}`, userId);
    }
  });

  it('gives a valid channel name for any valid user id with the default template', () => {
    const app = defineApp(minimal);
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_\-=@,.;]{1,100}$/), (userId) => {
        const channel = inboxChannel(app, userId);
        const expected = userId.startsWith('=') ? `private-=${Buffer.from(userId, 'utf8').toString('base64url')}` : `private-${userId}`;
        return channel === expected && channelNameProblem(channel) === null;
      }),
    );
  });
});

describe('liveInboxChannel and the inbox template', () => {
  const app = defineApp({ id: 'a', key: 'k', secret: 's' });

  it('gives the inbox channel of ordinary user ids', () => {
    assert.equal(liveInboxChannel(app, '42'), 'private-42');
    assert.equal(liveInboxChannel(app, 'user@example.com'), 'private-user@example.com');
  });

  it('refuses user ids that would change the channel kind, and encodes ids outside the alphabet', () => {
    assert.equal(liveInboxChannel(app, 'cache-bob'), null, 'private-cache-bob is a cache channel');
    assert.equal(liveInboxChannel(app, 'encrypted-bob'), null, 'private-encrypted-bob is an encrypted channel');
    assert.equal(liveInboxChannel(app, 'auth0|123'), 'private-=YXV0aDB8MTIz', 'ids outside the alphabet are encoded, not refused');
  });

  it('accepts private and presence templates and refuses public, encrypted and cache ones', () => {
    assert.doesNotThrow(() => defineApp({ id: 'a', key: 'k', secret: 's', inbox_channel_template: 'presence-inbox-{userId}' }));
    for (const template of ['inbox-{userId}', 'private-encrypted-{userId}', 'private-cache-{userId}', 'cache-{userId}']) {
      assert.throws(
        () => defineApp({ id: 'a', key: 'k', secret: 's', inbox_channel_template: template }),
        (error: unknown) => error instanceof ConfigError && error.message.includes('inbox_channel_template'),
        template,
      );
    }
  });
});
