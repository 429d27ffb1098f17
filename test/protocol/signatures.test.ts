import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Pusher from 'pusher';
import {
  channelAuthString,
  hmacSha256Hex,
  httpSigningString,
  md5Hex,
  safeEqual,
  signChannel,
  signHttpRequest,
  signUser,
  verifyAuth,
} from '../../src/protocol/signatures.js';

// Pusher's published test vectors (https://pusher.com/docs/channels/library_auth_reference/auth-signatures
// and the REST API reference).
const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const SOCKET_ID = '1234.1234';

const sdk = new Pusher({ appId: '3', key: KEY, secret: SECRET, host: 'localhost' });

describe('hmacSha256Hex / md5Hex', () => {
  it('computes RFC 4231 test case 2', () => {
    assert.equal(
      hmacSha256Hex('Jefe', 'what do ya want for nothing?'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('computes lower-case hex MD5 of strings and buffers alike', () => {
    assert.equal(md5Hex(''), 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(md5Hex(Buffer.from('abc')), md5Hex('abc'));
    assert.equal(md5Hex('abc'), '900150983cd24fb0d6963f7d28e17f72');
  });

  it('hashes a string body as UTF-8, the way the SDK does', () => {
    assert.equal(md5Hex('é'), md5Hex(Buffer.from('é', 'utf8')));
    assert.notEqual(md5Hex('é'), md5Hex(Buffer.from('é', 'latin1')));
  });
});

describe('channel signatures', () => {
  it('matches Pusher\'s published private-channel vector', () => {
    assert.equal(
      signChannel(KEY, SECRET, SOCKET_ID, 'private-foobar'),
      '278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4',
    );
  });

  it('builds the signed string with and without channel_data', () => {
    assert.equal(channelAuthString('1.2', 'private-a'), '1.2:private-a');
    assert.equal(channelAuthString('1.2', 'presence-a', '{"user_id":"u"}'), '1.2:presence-a:{"user_id":"u"}');
    // An empty channel_data is still part of the signed string.
    assert.equal(channelAuthString('1.2', 'presence-a', ''), '1.2:presence-a:');
  });

  it('agrees with the official SDK for a private channel', () => {
    const reply = sdk.authorizeChannel(SOCKET_ID, 'private-foobar');
    assert.equal(reply.channel_data, undefined);
    assert.equal(signChannel(KEY, SECRET, SOCKET_ID, 'private-foobar'), reply.auth);
  });

  it('agrees with the official SDK for a presence channel', () => {
    const presence = { user_id: '10', user_info: { name: 'Mr. Channels', twitter: '@pusher' } };
    const reply = sdk.authorizeChannel(SOCKET_ID, 'presence-foobar', presence);
    assert.equal(reply.channel_data, JSON.stringify(presence));
    assert.equal(signChannel(KEY, SECRET, SOCKET_ID, 'presence-foobar', reply.channel_data), reply.auth);
    assert.ok(verifyAuth(KEY, SECRET, channelAuthString(SOCKET_ID, 'presence-foobar', reply.channel_data), reply.auth));
  });

  it('agrees with the official SDK for arbitrary sockets, channels and presence data', () => {
    const socketId = fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}.${b}`);
    const channel = fc.stringMatching(/^[A-Za-z0-9_\-=@,.;]{1,50}$/);
    fc.assert(
      fc.property(socketId, channel, fc.string({ minLength: 1 }), fc.dictionary(fc.string(), fc.jsonValue()), (socket, name, userId, info) => {
        const presence = { user_id: userId, user_info: info };
        const reply = sdk.authorizeChannel(socket, `presence-${name}`, presence);
        assert.equal(signChannel(KEY, SECRET, socket, `presence-${name}`, reply.channel_data), reply.auth);
      }),
    );
  });
});

describe('user (pusher:signin) signatures', () => {
  it('agrees with the official SDK', () => {
    const user = { id: 'user-1', user_info: { name: 'Ada' }, watchlist: ['user-2'] };
    const reply = sdk.authenticateUser(SOCKET_ID, user);
    assert.equal(reply.user_data, JSON.stringify(user));
    assert.equal(signUser(KEY, SECRET, SOCKET_ID, reply.user_data), reply.auth);
    assert.ok(verifyAuth(KEY, SECRET, `${SOCKET_ID}::user::${reply.user_data}`, reply.auth));
  });

  it('signs `socket_id::user::user_data`, not the channel form', () => {
    const userData = '{"id":"u"}';
    assert.equal(signUser(KEY, SECRET, SOCKET_ID, userData), `${KEY}:${hmacSha256Hex(SECRET, `${SOCKET_ID}::user::${userData}`)}`);
    assert.notEqual(signUser(KEY, SECRET, SOCKET_ID, userData), signChannel(KEY, SECRET, SOCKET_ID, 'user', userData));
  });
});

describe('verifyAuth', () => {
  const signed = channelAuthString(SOCKET_ID, 'private-foobar');
  const good = signChannel(KEY, SECRET, SOCKET_ID, 'private-foobar');

  it('accepts the right key:signature', () => {
    assert.equal(verifyAuth(KEY, SECRET, signed, good), true);
  });

  it('rejects another key, another secret, another signed string and a tampered signature', () => {
    assert.equal(verifyAuth('other-key', SECRET, signed, good), false);
    assert.equal(verifyAuth(KEY, 'other-secret', signed, good), false);
    assert.equal(verifyAuth(KEY, SECRET, channelAuthString(SOCKET_ID, 'private-other'), good), false);
    const last = good.at(-1) === '0' ? '1' : '0';
    assert.equal(verifyAuth(KEY, SECRET, signed, good.slice(0, -1) + last), false);
    assert.equal(verifyAuth(KEY, SECRET, signed, good.toUpperCase()), false);
  });

  it('rejects a signature without its key, truncated or extended', () => {
    assert.equal(verifyAuth(KEY, SECRET, signed, good.split(':')[1]), false);
    assert.equal(verifyAuth(KEY, SECRET, signed, good.slice(0, -1)), false);
    assert.equal(verifyAuth(KEY, SECRET, signed, `${good}0`), false);
    assert.equal(verifyAuth(KEY, SECRET, signed, ''), false);
  });

  it('rejects auth values that are not strings', () => {
    for (const auth of [undefined, null, 42, true, {}, [good], Buffer.from(good)]) {
      assert.equal(verifyAuth(KEY, SECRET, signed, auth), false, `auth ${String(auth)}`);
    }
  });
});

describe('safeEqual', () => {
  it('is true for equal strings, including empty and non-ASCII ones', () => {
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('héllo ☃ 𝄞', 'héllo ☃ 𝄞'), true);
  });

  it('is false for different strings of equal length', () => {
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'ABC'), false);
  });

  it('is false for different lengths, either way round, without throwing', () => {
    assert.equal(safeEqual('', 'a'), false);
    assert.equal(safeEqual('a', ''), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('abcd', 'abc'), false);
  });

  it('compares bytes: strings of equal UTF-16 length but different UTF-8 length differ', () => {
    // 'é' is one UTF-16 unit but two UTF-8 bytes.
    assert.equal('é'.length, 'e'.length);
    assert.equal(safeEqual('é', 'e'), false);
    // Same UTF-8 length, different bytes.
    assert.equal(safeEqual('é', 'ab'), false);
  });

  it('agrees with === for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => safeEqual(a, b) === (a === b)));
    fc.assert(fc.property(fc.string(), (a) => safeEqual(a, a)));
  });
});

describe('HTTP request signatures', () => {
  const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
  const query: [string, string][] = [
    ['auth_key', KEY],
    ['auth_timestamp', '1353088179'],
    ['auth_version', '1.0'],
    ['body_md5', 'ec365a775a4cd0599faeb73354201b6f'],
  ];

  it('matches Pusher\'s published body_md5', () => {
    assert.equal(body, JSON.stringify({ name: 'foo', channels: ['project-3'], data: '{"some":"data"}' }));
    assert.equal(md5Hex(body), 'ec365a775a4cd0599faeb73354201b6f');
  });

  it('matches Pusher\'s published request signature', () => {
    assert.equal(
      httpSigningString('POST', '/apps/3/events', query),
      'POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f',
    );
    assert.equal(signHttpRequest(SECRET, 'POST', '/apps/3/events', query), 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c');
  });

  it('upper-cases the method', () => {
    assert.equal(signHttpRequest(SECRET, 'post', '/apps/3/events', query), signHttpRequest(SECRET, 'POST', '/apps/3/events', query));
  });

  it('leaves out auth_signature, whatever its case', () => {
    const expected = signHttpRequest(SECRET, 'POST', '/apps/3/events', query);
    assert.equal(signHttpRequest(SECRET, 'POST', '/apps/3/events', [...query, ['auth_signature', 'x']]), expected);
    assert.equal(signHttpRequest(SECRET, 'POST', '/apps/3/events', [['AUTH_SIGNATURE', 'x'], ...query]), expected);
  });

  it('lower-cases keys before sorting them', () => {
    const signing = httpSigningString('GET', '/apps/3/channels', [
      ['Zeta', '1'],
      ['alpha', '2'],
      ['FILTER_BY_PREFIX', 'presence-'],
    ]);
    assert.equal(signing, 'GET\n/apps/3/channels\nalpha=2&filter_by_prefix=presence-&zeta=1');
  });

  it('signs values as given (decoded), not re-encoded', () => {
    assert.equal(
      httpSigningString('GET', '/apps/3/channels', [['info', 'user_count,subscription_count']]),
      'GET\n/apps/3/channels\ninfo=user_count,subscription_count',
    );
  });

  it('signs an empty query as an empty third line', () => {
    assert.equal(httpSigningString('GET', '/apps/3/channels', []), 'GET\n/apps/3/channels\n');
  });

  it('depends on the method, the path and every parameter', () => {
    const base = signHttpRequest(SECRET, 'POST', '/apps/3/events', query);
    assert.notEqual(signHttpRequest(SECRET, 'GET', '/apps/3/events', query), base);
    assert.notEqual(signHttpRequest(SECRET, 'POST', '/apps/4/events', query), base);
    assert.notEqual(signHttpRequest(SECRET, 'POST', '/apps/3/events', [...query, ['info', 'user_count']]), base);
    assert.notEqual(signHttpRequest(SECRET, 'POST', '/apps/3/events', query.slice(1)), base);
  });

  it('accepts what the official SDK signs, read back through URLSearchParams', () => {
    const path = '/apps/3/channels';
    const signed = sdk.createSignedQueryString({ method: 'GET', path, params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    const params = new URLSearchParams(signed);
    assert.equal(params.get('auth_key'), KEY);
    assert.equal(signHttpRequest(SECRET, 'GET', path, params), params.get('auth_signature'));

    const withBody = sdk.createSignedQueryString({ method: 'POST', path: '/apps/3/events', body });
    const bodyParams = new URLSearchParams(withBody);
    assert.equal(bodyParams.get('body_md5'), md5Hex(body));
    assert.equal(signHttpRequest(SECRET, 'POST', '/apps/3/events', bodyParams), bodyParams.get('auth_signature'));
  });

  it('does not depend on the order of query parameters', () => {
    // Distinct keys after lower-casing; values from a safe alphabet.
    const entries = fc.uniqueArray(
      fc.tuple(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/), fc.string({ maxLength: 20 })),
      { selector: ([key]) => key.toLowerCase(), maxLength: 12 },
    );
    fc.assert(
      fc.property(entries, fc.func(fc.integer()), (pairs, order) => {
        const shuffled = pairs
          .map((pair, index) => ({ pair, rank: order(index) }))
          .sort((a, b) => a.rank - b.rank)
          .map(({ pair }) => pair);
        return signHttpRequest(SECRET, 'POST', '/apps/3/events', pairs) === signHttpRequest(SECRET, 'POST', '/apps/3/events', shuffled);
      }),
    );
  });
});
