import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpError } from '../../src/protocol/errors.js';
import { parseInfo, parseTriggerEvent, type TriggerLimits } from '../../src/protocol/trigger.js';

const LIMITS: TriggerLimits = { maxEventPayloadBytes: 10 * 1024, maxChannelsPerTrigger: 100 };

/** Asserts that `fn` throws an HttpError with `status` whose message matches `pattern`. */
function throwsHttp(fn: () => unknown, status: number, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HttpError, `expected an HttpError, got ${String(error)}`);
    assert.equal(error.status, status);
    assert.equal(error.code, status === 413 ? 'payload_too_large' : 'bad_request');
    assert.match(error.message, pattern);
    return true;
  });
}

const event = (overrides: Record<string, unknown> = {}) => ({ name: 'my-event', data: '{"a":1}', channels: ['my-channel'], ...overrides });

describe('parseTriggerEvent: valid events', () => {
  it('parses the body the official SDK sends', () => {
    assert.deepEqual(parseTriggerEvent({ name: 'foo', channels: ['project-3'], data: '{"some":"data"}' }, LIMITS), {
      name: 'foo',
      data: '{"some":"data"}',
      channels: ['project-3'],
      exceptSocketId: null,
      info: null,
    });
  });

  it('accepts a single "channel" (batch events use it)', () => {
    const parsed = parseTriggerEvent({ name: 'e', channel: 'private-a', data: 'x' }, LIMITS);
    assert.deepEqual(parsed.channels, ['private-a']);
  });

  it('prefers "channels" when both are given', () => {
    assert.deepEqual(parseTriggerEvent(event({ channel: 'ignored' }), LIMITS).channels, ['my-channel']);
  });

  it('stringifies non-string data as JSON', () => {
    assert.equal(parseTriggerEvent(event({ data: { a: [1, 'b'] } }), LIMITS).data, '{"a":[1,"b"]}');
    assert.equal(parseTriggerEvent(event({ data: 5 }), LIMITS).data, '5');
    assert.equal(parseTriggerEvent(event({ data: null }), LIMITS).data, 'null');
    assert.equal(parseTriggerEvent(event({ data: '' }), LIMITS).data, '');
  });

  it('removes duplicate channels, keeping order', () => {
    assert.deepEqual(parseTriggerEvent(event({ channels: ['b', 'a', 'b', 'c', 'a'] }), LIMITS).channels, ['b', 'a', 'c']);
  });

  it('accepts #server-to-user- channels (the SDK\'s sendToUser)', () => {
    assert.deepEqual(parseTriggerEvent(event({ channels: ['#server-to-user-42'] }), LIMITS).channels, ['#server-to-user-42']);
  });

  it('keeps a valid socket_id to exclude, and ignores a null one', () => {
    assert.equal(parseTriggerEvent(event({ socket_id: '123.456' }), LIMITS).exceptSocketId, '123.456');
    assert.equal(parseTriggerEvent(event({ socket_id: null }), LIMITS).exceptSocketId, null);
  });

  it('parses info', () => {
    assert.deepEqual(parseTriggerEvent(event({ info: 'subscription_count' }), LIMITS).info, { subscriptionCount: true, userCount: false });
    assert.deepEqual(parseTriggerEvent(event({ info: 'user_count,subscription_count' }), LIMITS).info, {
      subscriptionCount: true,
      userCount: true,
    });
    assert.equal(parseTriggerEvent(event({ info: '' }), LIMITS).info, null);
  });

  it('accepts a name of exactly 200 characters and data of exactly the limit in bytes', () => {
    assert.equal(parseTriggerEvent(event({ name: 'n'.repeat(200) }), LIMITS).name.length, 200);
    const limits = { maxEventPayloadBytes: 10, maxChannelsPerTrigger: 100 };
    assert.equal(parseTriggerEvent(event({ data: 'x'.repeat(10) }), limits).data.length, 10);
    assert.equal(parseTriggerEvent(event({ data: 'é'.repeat(5) }), limits).data, 'é'.repeat(5));
  });

  it(`accepts exactly maxChannelsPerTrigger channels`, () => {
    const channels = Array.from({ length: 100 }, (_, i) => `c${i}`);
    assert.equal(parseTriggerEvent(event({ channels }), LIMITS).channels.length, 100);
  });
});

describe('parseTriggerEvent: validation errors', () => {
  it('400 for a missing, empty or non-string name', () => {
    for (const name of [undefined, '', 5, null, ['e']]) {
      throwsHttp(() => parseTriggerEvent(event({ name }), LIMITS), 400, /"name" must be a non-empty string/);
    }
  });

  it('400 for a name longer than 200 characters', () => {
    throwsHttp(() => parseTriggerEvent(event({ name: 'n'.repeat(201) }), LIMITS), 400, /"name" is longer than 200 characters/);
  });

  it('400 for missing data', () => {
    throwsHttp(() => parseTriggerEvent(event({ data: undefined }), LIMITS), 400, /"data" is required/);
  });

  it('413 for data over the payload limit, counted in bytes', () => {
    const limits = { maxEventPayloadBytes: 10, maxChannelsPerTrigger: 100 };
    throwsHttp(() => parseTriggerEvent(event({ data: 'x'.repeat(11) }), limits), 413, /"data" is larger than 10 bytes/);
    // Six characters, twelve bytes.
    throwsHttp(() => parseTriggerEvent(event({ data: 'é'.repeat(6) }), limits), 413, /larger than 10 bytes/);
    // Objects are measured as their JSON.
    throwsHttp(() => parseTriggerEvent(event({ data: { abcdefgh: 1 } }), limits), 413, /larger than 10 bytes/);
    throwsHttp(() => parseTriggerEvent(event({ data: 'x'.repeat(10 * 1024 + 1) }), LIMITS), 413, /larger than 10240 bytes/);
  });

  it('400 when neither channels nor channel is given', () => {
    throwsHttp(() => parseTriggerEvent(event({ channels: undefined }), LIMITS), 400, /"channels" or "channel" is required/);
  });

  it('400 when channels is not an array', () => {
    for (const channels of ['my-channel', 5, null, { 0: 'a' }]) {
      throwsHttp(() => parseTriggerEvent(event({ channels }), LIMITS), 400, /"channels" must be an array of channel names/);
    }
  });

  it('400 for an empty channels array', () => {
    throwsHttp(() => parseTriggerEvent(event({ channels: [] }), LIMITS), 400, /"channels" must not be empty/);
  });

  it('400 for more channels than the limit, counted before duplicates are removed', () => {
    const channels = Array.from({ length: 101 }, (_, i) => `c${i}`);
    throwsHttp(() => parseTriggerEvent(event({ channels }), LIMITS), 400, /"channels" has 101 channels; the limit is 100/);
    const limits = { maxEventPayloadBytes: 100, maxChannelsPerTrigger: 2 };
    throwsHttp(() => parseTriggerEvent(event({ channels: ['a', 'a', 'a'] }), limits), 400, /has 3 channels; the limit is 2/);
  });

  it('400 naming the invalid channel by index', () => {
    throwsHttp(() => parseTriggerEvent(event({ channels: ['ok', 'bad name'] }), LIMITS), 400, /"channels\[1\]": channel name may only contain/);
    throwsHttp(() => parseTriggerEvent(event({ channels: ['ok', 5] }), LIMITS), 400, /"channels\[1\]": channel name must be a non-empty string/);
    throwsHttp(() => parseTriggerEvent(event({ channels: ['a'.repeat(165)] }), LIMITS), 400, /"channels\[0\]": channel name is longer than 164/);
    throwsHttp(() => parseTriggerEvent(event({ channels: ['#room'] }), LIMITS), 400, /"channels\[0\]": .*reserved/);
    throwsHttp(() => parseTriggerEvent(event({ channels: ['private-'] }), LIMITS), 400, /"channels\[0\]": .*no name after its prefix/);
  });

  it('400 naming "channel" when the single-channel form is invalid', () => {
    throwsHttp(() => parseTriggerEvent({ name: 'e', data: 'x', channel: 'bad name' }, LIMITS), 400, /^"channel": channel name may only contain/);
    throwsHttp(() => parseTriggerEvent({ name: 'e', data: 'x', channel: 7 }, LIMITS), 400, /^"channel": channel name must be a non-empty string/);
  });

  it('400 for a socket_id that is not N.N', () => {
    for (const socketId of ['', '123', '123.', '.456', 'a.b', '1.2.3', ' 1.2', '1.2\n', 123.456, true]) {
      throwsHttp(() => parseTriggerEvent(event({ socket_id: socketId }), LIMITS), 400, /"socket_id" must look like "1234.5678"/);
    }
  });

  it('400 for unknown or malformed info', () => {
    throwsHttp(() => parseTriggerEvent(event({ info: 'cache' }), LIMITS), 400, /Unknown info attribute "cache"; allowed: subscription_count, user_count/);
    throwsHttp(() => parseTriggerEvent(event({ info: ['user_count'] }), LIMITS), 400, /"info" must be a comma-separated string/);
  });

  it('prefixes field names with `where` for batch events', () => {
    throwsHttp(() => parseTriggerEvent(event({ name: '' }), LIMITS, 'batch[2]'), 400, /"batch\[2\]\.name" must be a non-empty string/);
    throwsHttp(
      () => parseTriggerEvent(event({ data: 'x'.repeat(11) }), { maxEventPayloadBytes: 10, maxChannelsPerTrigger: 1 }, 'batch[0]'),
      413,
      /"batch\[0\]\.data" is larger than 10 bytes/,
    );
    throwsHttp(() => parseTriggerEvent({ name: 'e', data: 'x', channel: '#x' }, LIMITS, 'batch[1]'), 400, /"batch\[1\]\.channel": /);
    throwsHttp(() => parseTriggerEvent(event({ channels: ['a', '!'] }), LIMITS, 'batch[3]'), 400, /"batch\[3\]\.channels\[1\]": /);
    throwsHttp(() => parseTriggerEvent(event({ socket_id: 'x' }), LIMITS, 'batch[4]'), 400, /"batch\[4\]\.socket_id"/);
  });

  it('checks the name before the data, and the data size before the channels', () => {
    throwsHttp(() => parseTriggerEvent({ data: 'x'.repeat(20_000) }, LIMITS), 400, /"name"/);
    throwsHttp(() => parseTriggerEvent({ name: 'e', data: 'x'.repeat(20_000), channels: 'nope' }, LIMITS), 413, /"data"/);
  });

  it('throws only HttpError with status 400 or 413 for arbitrary bodies', () => {
    const value = fc.oneof(fc.jsonValue(), fc.string(), fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }));
    const body = fc.record({ name: value, data: value, channels: value, channel: value, socket_id: value, info: value }, { requiredKeys: [] });
    fc.assert(
      fc.property(body, (input) => {
        try {
          parseTriggerEvent(input, { maxEventPayloadBytes: 64, maxChannelsPerTrigger: 3 });
          return true;
        } catch (error) {
          return error instanceof HttpError && (error.status === 400 || error.status === 413);
        }
      }),
    );
  });
});

describe('parseInfo', () => {
  const allowed = ['subscription_count', 'user_count', 'cache'];

  it('returns an empty set for absent or empty info', () => {
    for (const value of [undefined, null, '']) assert.equal(parseInfo(value, allowed).size, 0);
  });

  it('splits on commas, trims and drops empty parts and duplicates', () => {
    assert.deepEqual([...parseInfo(' user_count , ,subscription_count,user_count,', allowed)], ['user_count', 'subscription_count']);
    assert.deepEqual([...parseInfo('cache', allowed)], ['cache']);
    assert.equal(parseInfo(',', allowed).size, 0);
  });

  it('400 for an attribute that is not allowed, naming it and the allowed ones', () => {
    throwsHttp(() => parseInfo('user_count,members', allowed), 400, /Unknown info attribute "members"; allowed: subscription_count, user_count, cache/);
    throwsHttp(() => parseInfo('USER_COUNT', allowed), 400, /"USER_COUNT"/);
    throwsHttp(() => parseInfo('cache', ['user_count']), 400, /Unknown info attribute "cache"/);
  });

  it('400 for info that is not a string', () => {
    for (const value of [1, true, ['user_count'], { user_count: true }]) {
      throwsHttp(() => parseInfo(value, allowed), 400, /"info" must be a comma-separated string/);
    }
  });
});
