/** The pure pieces of the hardening: JSON depth, the apps-file options, origins and client addresses. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, defineApp, originAllowed, parseAppsFile } from '../../src/config/apps.js';
import { loadConfig } from '../../src/config/server-config.js';
import { jsonDepthExceeds } from '../../src/protocol/json-depth.js';
import { decodeClientMessage } from '../../src/protocol/messages.js';
import { Errors, ProtocolError } from '../../src/protocol/errors.js';
import { clientAddress } from '../../src/transport/websocket-server.js';

/** The depth of a JSON value, recursively: the reference the iterative check is compared with. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('jsonDepthExceeds', () => {
  it('agrees with the recursive depth on any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (value, max) => {
        assert.equal(jsonDepthExceeds(value, max), depthOf(value) > max);
      }),
      { numRuns: 500 },
    );
  });

  it('counts scalars as 0 and each array or object as one level', () => {
    assert.equal(jsonDepthExceeds('x', 0), false);
    assert.equal(jsonDepthExceeds(null, 0), false);
    assert.equal(jsonDepthExceeds([], 0), true);
    assert.equal(jsonDepthExceeds([], 1), false);
    assert.equal(jsonDepthExceeds({ a: [{ b: 1 }] }, 2), true);
    assert.equal(jsonDepthExceeds({ a: [{ b: 1 }] }, 3), false);
  });

  it('handles a million levels without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000)) as unknown;
    assert.equal(jsonDepthExceeds(deep, 100), true);
  });

  it('makes deep client event data a 4301 error, not an internal one', () => {
    const frame = (depth: number) => `{"event":"client-x","channel":"private-a","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    assert.throws(() => decodeClientMessage(frame(101)), (error: unknown) => error instanceof ProtocolError && error.code === Errors.clientEventInvalid.code && error.pusherCode === 4301);
    assert.equal(decodeClientMessage(frame(100)).type, 'client-event');
  });
});

describe('apps file: allowed_origins, max_connections_per_ip, max_channels_per_connection', () => {
  const base = { id: 'a', key: 'k', secret: 's' };

  it('defaults to no origin check, no per-address limit and 1,000 channels per socket', () => {
    const app = defineApp(base);
    assert.equal(app.allowedOrigins, null);
    assert.equal(app.maxConnectionsPerIp, null);
    assert.equal(app.maxChannelsPerConnection, 1000);
  });

  it('accepts exact origins (kept lower-case) and "*"', () => {
    assert.deepEqual(defineApp({ ...base, allowed_origins: ['https://App.Example.com', 'http://localhost:8080', '*'] }).allowedOrigins, ['https://app.example.com', 'http://localhost:8080', '*']);
  });

  it('refuses anything that is not an origin, naming the entry', () => {
    for (const bad of ['https://app.example.com/', 'https://app.example.com/path', 'app.example.com', '*.example.com', 'https://*.example.com', 'http://a.com:80', 'null', '']) {
      assert.throws(() => defineApp({ ...base, allowed_origins: [bad] }), (error: unknown) => error instanceof ConfigError && /allowed_origins\.0/.test(error.message), bad);
    }
    assert.throws(() => defineApp({ ...base, allowed_origins: [] }), ConfigError, 'an empty list would refuse every browser: say null');
    assert.throws(() => defineApp({ ...base, max_connections_per_ip: 0 }), ConfigError);
    assert.throws(() => defineApp({ ...base, max_channels_per_connection: -1 }), ConfigError);
  });

  it('reads them from the apps file', () => {
    const [app] = parseAppsFile(JSON.stringify({ apps: [{ ...base, allowed_origins: ['https://x.example'], max_connections_per_ip: 5, max_channels_per_connection: 50 }] }), 'apps.json');
    assert.deepEqual([app.allowedOrigins, app.maxConnectionsPerIp, app.maxChannelsPerConnection], [['https://x.example'], 5, 50]);
  });

  it('originAllowed: listed origins in any case, "*", and sockets without an Origin header', () => {
    const app = defineApp({ ...base, allowed_origins: ['https://x.example'] });
    assert.equal(originAllowed(app, 'https://x.example'), true);
    assert.equal(originAllowed(app, 'HTTPS://X.EXAMPLE'), true);
    assert.equal(originAllowed(app, undefined), true);
    for (const origin of ['https://y.example', 'http://x.example', 'https://x.example:444', 'null', '', 'https://x.example.evil']) assert.equal(originAllowed(app, origin), false, origin);
    assert.equal(originAllowed(defineApp({ ...base, allowed_origins: ['*'] }), 'https://anything'), true);
    assert.equal(originAllowed(defineApp(base), 'https://anything'), true);
  });
});

describe('clientAddress', () => {
  const req = (remoteAddress: string, forwardedFor?: string | string[]) =>
    ({ socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

  it('is the peer address unless the proxy is trusted', () => {
    assert.equal(clientAddress(req('10.0.0.1', '203.0.113.9'), false), '10.0.0.1');
  });

  it('behind a trusted proxy, is the last X-Forwarded-For entry when it is an address', () => {
    assert.equal(clientAddress(req('10.0.0.1', '203.0.113.9'), true), '203.0.113.9');
    assert.equal(clientAddress(req('10.0.0.1', '1.1.1.1, 203.0.113.9'), true), '203.0.113.9');
    assert.equal(clientAddress(req('10.0.0.1', ['1.1.1.1', '2001:db8::7']), true), '2001:db8::7');
    assert.equal(clientAddress(req('10.0.0.1', '203.0.113.9, not-an-ip'), true), '10.0.0.1');
    assert.equal(clientAddress(req('10.0.0.1'), true), '10.0.0.1');
  });
});

describe('HERALD_TRUST_PROXY', () => {
  it('is off by default and read as a boolean', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ trustProxy: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ trustProxy: true }).trustProxy, true);
    assert.throws(() => loadConfig({ trustProxy: 'maybe' }), ConfigError);
  });
});

describe('HERALD_NODE_NAME', () => {
  it('names the node HOSTNAME:PORT unless told otherwise, and refuses an empty name', () => {
    assert.equal(loadConfig({}).nodeName, `${hostname()}:6001`);
    assert.equal(loadConfig({ port: '7000' }).nodeName, `${hostname()}:7000`);
    assert.equal(loadConfig({ nodeName: ' web-3 ' }).nodeName, 'web-3');
    assert.throws(() => loadConfig({ nodeName: '  ' }), ConfigError);
  });
});
