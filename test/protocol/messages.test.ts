import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Errors, ProtocolError, type ErrorDefinition } from '../../src/protocol/errors.js';
import { MAX_EVENT_NAME_LENGTH } from '../../src/protocol/limits.js';
import {
  cacheMiss,
  connectionEstablished,
  decodeClientMessage,
  encodeEvent,
  errorMessage,
  memberAdded,
  memberRemoved,
  PING,
  PONG,
  signinSuccess,
  subscriptionCount,
  subscriptionSucceeded,
  watchlistEvents,
} from '../../src/protocol/messages.js';

const frame = (value: unknown) => JSON.stringify(value);

/** Asserts that decoding throws the registered ProtocolError `expected`, its message naming what `names` matches. */
function rejects(text: string, expected: ErrorDefinition, names: RegExp): void {
  assert.throws(
    () => decodeClientMessage(text),
    (error: unknown) => {
      assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
      assert.equal(error.code, expected.code);
      assert.equal(error.pusherCode, expected.pusherCode);
      assert.match(error.message, names);
      assert.equal(error.closesConnection, false);
      return true;
    },
  );
}

describe('decodeClientMessage: valid messages', () => {
  it('decodes pusher:ping and pusher:pong, with or without data', () => {
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:ping', data: {} })), { type: 'ping' });
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:ping' })), { type: 'ping' });
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:pong', data: '{}' })), { type: 'pong' });
  });

  it('decodes a public subscribe', () => {
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:subscribe', data: { channel: 'my-channel' } })), {
      type: 'subscribe',
      channel: 'my-channel',
      auth: undefined,
      channelData: undefined,
    });
  });

  it('decodes a presence subscribe with auth and channel_data (as pusher-js sends it)', () => {
    const channelData = '{"user_id":"1","user_info":{"name":"Ada"}}';
    assert.deepEqual(
      decodeClientMessage(frame({ event: 'pusher:subscribe', data: { auth: 'key:sig', channel_data: channelData, channel: 'presence-room' } })),
      { type: 'subscribe', channel: 'presence-room', auth: 'key:sig', channelData },
    );
  });

  it('treats null auth and channel_data as absent', () => {
    const message = decodeClientMessage(frame({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: null, channel_data: null } }));
    assert.deepEqual(message, { type: 'subscribe', channel: 'private-a', auth: undefined, channelData: undefined });
  });

  it('accepts data sent as a JSON string holding an object', () => {
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:subscribe', data: frame({ channel: 'private-a', auth: 'k:s' }) })), {
      type: 'subscribe',
      channel: 'private-a',
      auth: 'k:s',
      channelData: undefined,
    });
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:unsubscribe', data: frame({ channel: 'a' }) })), {
      type: 'unsubscribe',
      channel: 'a',
    });
  });

  it('decodes pusher:unsubscribe', () => {
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:unsubscribe', data: { channel: 'private-a' } })), {
      type: 'unsubscribe',
      channel: 'private-a',
    });
  });

  it('decodes pusher:signin', () => {
    const userData = '{"id":"u1"}';
    assert.deepEqual(decodeClientMessage(frame({ event: 'pusher:signin', data: { auth: 'key:sig', user_data: userData } })), {
      type: 'signin',
      auth: 'key:sig',
      userData,
    });
  });

  it('decodes a client event with object data, keeping the raw JSON of the data', () => {
    const message = decodeClientMessage(frame({ event: 'client-typing', channel: 'private-chat', data: { user: 'u1', n: [1, 2] } }));
    assert.deepEqual(message, {
      type: 'client-event',
      event: 'client-typing',
      channel: 'private-chat',
      data: { user: 'u1', n: [1, 2] },
      rawData: '{"user":"u1","n":[1,2]}',
    });
  });

  it('decodes a client event with string data, keeping the string as is', () => {
    const message = decodeClientMessage(frame({ event: 'client-x', channel: 'private-a', data: '{"a":1}' }));
    assert.deepEqual(message, { type: 'client-event', event: 'client-x', channel: 'private-a', data: '{"a":1}', rawData: '{"a":1}' });
  });

  it('encodes missing client event data as null', () => {
    const message = decodeClientMessage(frame({ event: 'client-x', channel: 'private-a' }));
    assert.equal(message.type, 'client-event');
    assert.equal(message.type === 'client-event' && message.rawData, 'null');
  });

  it(`accepts a client event name of exactly ${MAX_EVENT_NAME_LENGTH} characters`, () => {
    const event = `client-${'x'.repeat(MAX_EVENT_NAME_LENGTH - 7)}`;
    assert.equal(event.length, MAX_EVENT_NAME_LENGTH);
    assert.equal(decodeClientMessage(frame({ event, channel: 'private-a', data: {} })).type, 'client-event');
  });
});

describe('decodeClientMessage: malformed messages', () => {
  it('rejects text that is not JSON', () => {
    for (const text of ['', 'hello', '{', '{"event":', "{'event':'pusher:ping'}", 'undefined']) {
      rejects(text, Errors.malformedMessage, /not valid JSON/);
    }
  });

  it('rejects JSON that is not an object', () => {
    for (const text of ['[]', '[{"event":"pusher:ping"}]', 'null', '1', '"pusher:ping"', 'true']) {
      rejects(text, Errors.malformedMessage, /expected a JSON object/);
    }
  });

  it('rejects a missing, empty or non-string event', () => {
    for (const value of [{}, { data: {} }, { event: '' }, { event: 1 }, { event: null }, { event: ['pusher:ping'] }]) {
      rejects(frame(value), Errors.malformedMessage, /"event" must be a non-empty string/);
    }
  });

  it('rejects data that is a string but not JSON', () => {
    rejects(frame({ event: 'pusher:subscribe', data: '{channel:private-a}' }), Errors.invalidField, /pusher:subscribe: data is not valid JSON/);
    rejects(frame({ event: 'pusher:signin', data: '' }), Errors.invalidField, /pusher:signin: data is not valid JSON/);
  });

  it('rejects data that is not an object, directly or inside a JSON string', () => {
    for (const data of [1, true, ['private-a'], 'true', '"private-a"', '[1]', '42']) {
      rejects(frame({ event: 'pusher:subscribe', data }), Errors.invalidField, /pusher:subscribe: data must be an object/);
    }
  });

  it('rejects a subscribe without a usable channel', () => {
    for (const data of [undefined, {}, { channel: '' }, { channel: 5 }, { channel: null }, { channel: ['a'] }, 'null']) {
      rejects(frame({ event: 'pusher:subscribe', data }), Errors.invalidField, /pusher:subscribe: channel must be a non-empty string/);
    }
  });

  it('rejects subscribe auth and channel_data of the wrong type', () => {
    rejects(frame({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: 42 } }), Errors.invalidField, /pusher:subscribe: auth must be a string/);
    rejects(
      frame({ event: 'pusher:subscribe', data: { channel: 'presence-a', auth: 'k:s', channel_data: { user_id: '1' } } }),
      Errors.invalidField,
      /pusher:subscribe: channel_data must be a string/,
    );
  });

  it('rejects an unsubscribe without a channel', () => {
    rejects(frame({ event: 'pusher:unsubscribe', data: {} }), Errors.invalidField, /pusher:unsubscribe: channel must be a non-empty string/);
    rejects(frame({ event: 'pusher:unsubscribe', data: { channel: 1 } }), Errors.invalidField, /pusher:unsubscribe: channel/);
  });

  it('rejects a signin without auth or user_data', () => {
    rejects(frame({ event: 'pusher:signin', data: { user_data: '{}' } }), Errors.invalidField, /pusher:signin: auth must be a non-empty string/);
    rejects(frame({ event: 'pusher:signin', data: { auth: 'k:s' } }), Errors.invalidField, /pusher:signin: user_data must be a non-empty string/);
    rejects(frame({ event: 'pusher:signin', data: { auth: 'k:s', user_data: { id: '1' } } }), Errors.invalidField, /user_data must be a non-empty string/);
    rejects(frame({ event: 'pusher:signin', data: { auth: '', user_data: '{}' } }), Errors.invalidField, /auth must be a non-empty string/);
  });

  it('rejects unknown pusher: and pusher_internal: events, naming the event', () => {
    rejects(frame({ event: 'pusher:unknown', data: {} }), Errors.unsupportedEvent, /Unsupported event "pusher:unknown"/);
    rejects(frame({ event: 'pusher_internal:member_added', data: {} }), Errors.unsupportedEvent, /Unsupported event "pusher_internal:member_added"/);
    rejects(frame({ event: 'my-event', channel: 'private-a', data: {} }), Errors.unsupportedEvent, /client events must start with "client-"/);
    rejects(frame({ event: 'Client-x', channel: 'private-a', data: {} }), Errors.unsupportedEvent, /Unsupported event "Client-x"/);
  });

  it('truncates a very long unknown event name in the message', () => {
    const event = `pusher:${'x'.repeat(10_000)}`;
    assert.throws(
      () => decodeClientMessage(frame({ event })),
      (error: unknown) => error instanceof ProtocolError && error.code === Errors.unsupportedEvent.code && error.message.length < MAX_EVENT_NAME_LENGTH + 100,
    );
  });

  it('rejects a client event without a channel with 4301', () => {
    for (const channel of [undefined, '', 1, null, ['private-a']]) {
      rejects(frame({ event: 'client-x', channel, data: {} }), Errors.clientEventInvalid, /Client event needs a "channel"/);
    }
  });

  it(`rejects a client event name longer than ${MAX_EVENT_NAME_LENGTH} characters with 4301`, () => {
    const event = `client-${'x'.repeat(MAX_EVENT_NAME_LENGTH - 6)}`;
    assert.equal(event.length, MAX_EVENT_NAME_LENGTH + 1);
    rejects(frame({ event, channel: 'private-a', data: {} }), Errors.clientEventInvalid, /longer than 200 characters/);
  });

  it('throws only ProtocolError for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          decodeClientMessage(text);
        } catch (error) {
          return error instanceof ProtocolError;
        }
        return true;
      }),
    );
  });

  it('throws only ProtocolError for arbitrary JSON, and for frames shaped like Pusher messages', () => {
    const event = fc.oneof(
      fc.constantFrom('pusher:ping', 'pusher:pong', 'pusher:subscribe', 'pusher:unsubscribe', 'pusher:signin', 'client-x', 'pusher:other'),
      fc.string(),
      fc.jsonValue(),
    );
    const data = fc.oneof(fc.jsonValue(), fc.jsonValue().map((value) => JSON.stringify(value)), fc.string());
    const shaped = fc.record({ event, data, channel: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }).map(frame);
    fc.assert(
      fc.property(fc.oneof(fc.json(), shaped), (text) => {
        try {
          const message = decodeClientMessage(text);
          return typeof message.type === 'string';
        } catch (error) {
          return error instanceof ProtocolError && error.message.length > 0;
        }
      }),
    );
  });

  it('decodes every well-formed subscribe it is given', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.option(fc.string(), { nil: undefined }), (channel, auth) => {
        const message = decodeClientMessage(frame({ event: 'pusher:subscribe', data: { channel, auth } }));
        assert.deepEqual(message, { type: 'subscribe', channel, auth, channelData: undefined });
      }),
    );
  });
});

describe('server message encoders', () => {
  const parse = (text: string) => JSON.parse(text) as Record<string, unknown>;

  it('encodeEvent keeps string data a string and omits absent fields', () => {
    assert.deepEqual(parse(encodeEvent('my-event', '{"a":1}', 'my-channel')), { event: 'my-event', channel: 'my-channel', data: '{"a":1}' });
    assert.deepEqual(parse(encodeEvent('e', { a: 1 })), { event: 'e', data: { a: 1 } });
    assert.deepEqual(parse(encodeEvent('e', undefined)), { event: 'e' });
    assert.deepEqual(parse(encodeEvent('e', 'x', 'private-a', 'u1')), { event: 'e', channel: 'private-a', data: 'x', user_id: 'u1' });
    assert.deepEqual(parse(encodeEvent('e', null)), { event: 'e', data: null });
  });

  it('connection_established carries a JSON string with socket_id and activity_timeout', () => {
    const message = parse(connectionEstablished('123.456', 120));
    assert.equal(message.event, 'pusher:connection_established');
    assert.equal(typeof message.data, 'string');
    assert.deepEqual(JSON.parse(message.data as string), { socket_id: '123.456', activity_timeout: 120 });
    assert.equal(message.channel, undefined);
  });

  it('pusher:error carries an object with code and message', () => {
    assert.deepEqual(parse(errorMessage(4001, 'App key x not in this cluster')), {
      event: 'pusher:error',
      data: { code: 4001, message: 'App key x not in this cluster' },
    });
    assert.deepEqual(parse(errorMessage(null, 'bad')), { event: 'pusher:error', data: { code: null, message: 'bad' } });
  });

  it('ping and pong are bare pusher: events', () => {
    assert.deepEqual(parse(PING), { event: 'pusher:ping', data: '{}' });
    assert.deepEqual(parse(PONG), { event: 'pusher:pong', data: '{}' });
  });

  it('subscription_succeeded sends "{}" on non-presence channels', () => {
    const message = parse(subscriptionSucceeded('private-a'));
    assert.equal(message.event, 'pusher_internal:subscription_succeeded');
    assert.equal(message.channel, 'private-a');
    assert.equal(message.data, '{}');
  });

  it('subscription_succeeded sends {presence:{ids,hash,count}} on presence channels', () => {
    const presence = { ids: ['1', '2'], hash: { '1': { name: 'Ada' }, '2': null }, count: 2 };
    const message = parse(subscriptionSucceeded('presence-a', presence));
    assert.equal(message.channel, 'presence-a');
    assert.equal(typeof message.data, 'string');
    assert.deepEqual(JSON.parse(message.data as string), { presence: { ids: ['1', '2'], hash: { '1': { name: 'Ada' }, '2': null }, count: 2 } });
  });

  it('member_added and member_removed carry user_id (and user_info) as JSON strings', () => {
    const added = parse(memberAdded('presence-a', '7', { name: 'Ada' }));
    assert.equal(added.event, 'pusher_internal:member_added');
    assert.equal(added.channel, 'presence-a');
    assert.deepEqual(JSON.parse(added.data as string), { user_id: '7', user_info: { name: 'Ada' } });
    const removed = parse(memberRemoved('presence-a', '7'));
    assert.equal(removed.event, 'pusher_internal:member_removed');
    assert.equal(removed.channel, 'presence-a');
    assert.deepEqual(JSON.parse(removed.data as string), { user_id: '7' });
  });

  it('cache_miss names the channel and has no data', () => {
    assert.deepEqual(parse(cacheMiss('cache-a')), { event: 'pusher:cache_miss', channel: 'cache-a' });
  });

  it('subscription_count carries {subscription_count} as a JSON string', () => {
    const message = parse(subscriptionCount('my-channel', 3));
    assert.equal(message.event, 'pusher_internal:subscription_count');
    assert.equal(message.channel, 'my-channel');
    assert.deepEqual(JSON.parse(message.data as string), { subscription_count: 3 });
  });

  it('signin_success echoes user_data, itself still a string', () => {
    const userData = '{"id":"u1","user_info":{"name":"Ada"}}';
    const message = parse(signinSuccess(userData));
    assert.equal(message.event, 'pusher:signin_success');
    const data = JSON.parse(message.data as string) as { user_data: unknown };
    assert.equal(data.user_data, userData);
    assert.deepEqual(JSON.parse(data.user_data as string), { id: 'u1', user_info: { name: 'Ada' } });
  });

  it('watchlist_events carries {events:[{name,user_ids}]}', () => {
    const message = parse(watchlistEvents([{ name: 'online', user_ids: ['a', 'b'] }, { name: 'offline', user_ids: ['c'] }]));
    assert.equal(message.event, 'pusher_internal:watchlist_events');
    assert.equal(message.channel, undefined);
    assert.deepEqual(JSON.parse(message.data as string), {
      events: [
        { name: 'online', user_ids: ['a', 'b'] },
        { name: 'offline', user_ids: ['c'] },
      ],
    });
  });
});
