import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  assertChannelName,
  channelKind,
  channelNameProblem,
  SERVER_TO_USER_PREFIX,
  serverToUserId,
  type ChannelKind,
} from '../../src/protocol/channels.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { MAX_CHANNEL_NAME_LENGTH } from '../../src/protocol/limits.js';

type Flags = Omit<ChannelKind, never>;
const flags = (authorised: boolean, presence: boolean, encrypted: boolean, cache: boolean, serverToUser = false): Flags => ({
  authorised,
  presence,
  encrypted,
  cache,
  serverToUser,
});

describe('channelKind', () => {
  const cases: [string, Flags][] = [
    ['my-channel', flags(false, false, false, false)],
    ['private-room', flags(true, false, false, false)],
    ['presence-room', flags(true, true, false, false)],
    ['private-encrypted-room', flags(true, false, true, false)],
    ['cache-room', flags(false, false, false, true)],
    ['private-cache-room', flags(true, false, false, true)],
    ['private-encrypted-cache-room', flags(true, false, true, true)],
    ['presence-cache-room', flags(true, true, false, true)],
    ['#server-to-user-42', flags(false, false, false, false, true)],
  ];
  for (const [name, expected] of cases) {
    it(`classifies ${name}`, () => {
      assert.deepEqual({ ...channelKind(name) }, expected);
    });
  }

  it('matches prefixes only at the start and case-sensitively', () => {
    for (const name of ['room-private-x', 'Private-x', 'PRESENCE-x', 'xpresence-x', 'encrypted-x', 'caches-x', 'server-to-user-1']) {
      assert.deepEqual({ ...channelKind(name) }, flags(false, false, false, false), name);
    }
  });

  it('treats encrypted presence and encrypted-cache orderings that Pusher does not define by their leading prefix', () => {
    assert.deepEqual({ ...channelKind('presence-encrypted-x') }, flags(true, true, false, false));
    assert.deepEqual({ ...channelKind('private-cache-encrypted-x') }, flags(true, false, false, true));
  });

  it('returns frozen kinds', () => {
    assert.ok(Object.isFrozen(channelKind('private-x')));
    assert.ok(Object.isFrozen(channelKind('public')));
  });
});

describe('channelNameProblem', () => {
  it('accepts every allowed character', () => {
    assert.equal(channelNameProblem('AZaz09_-=@,.;'), null);
    for (const char of 'ABCXYZabcxyz0123456789_-=@,.;') assert.equal(channelNameProblem(`a${char}b`), null, char);
  });

  it('accepts every kind with a name after its prefix', () => {
    for (const name of [
      'public',
      'private-a',
      'presence-a',
      'private-encrypted-a',
      'cache-a',
      'private-cache-a',
      'private-encrypted-cache-a',
      'presence-cache-a',
      '#server-to-user-a',
    ]) {
      assert.equal(channelNameProblem(name), null, name);
    }
  });

  it('rejects characters outside the allowed set', () => {
    for (const char of [' ', '/', '?', '#', '%', ':', '!', '*', '+', '"', "'", '\n', '\0', 'é', '☃', '𝄞']) {
      const problem = channelNameProblem(`private-a${char}b`);
      assert.match(problem ?? '', /may only contain/, JSON.stringify(char));
    }
  });

  it('rejects non-strings and the empty string', () => {
    for (const value of [undefined, null, 1, true, {}, ['private-a'], '']) {
      assert.match(channelNameProblem(value) ?? '', /non-empty string/, String(value));
    }
  });

  it(`allows exactly ${MAX_CHANNEL_NAME_LENGTH} characters`, () => {
    assert.equal(MAX_CHANNEL_NAME_LENGTH, 164);
    assert.equal(channelNameProblem('a'.repeat(164)), null);
    assert.match(channelNameProblem('a'.repeat(165)) ?? '', /longer than 164/);
    assert.equal(channelNameProblem(`private-${'a'.repeat(164 - 8)}`), null);
    assert.match(channelNameProblem(`private-${'a'.repeat(165 - 8)}`) ?? '', /longer than 164/);
    // The limit includes the #server-to-user- prefix.
    assert.equal(channelNameProblem(`${SERVER_TO_USER_PREFIX}${'u'.repeat(164 - SERVER_TO_USER_PREFIX.length)}`), null);
    assert.match(channelNameProblem(`${SERVER_TO_USER_PREFIX}${'u'.repeat(165 - SERVER_TO_USER_PREFIX.length)}`) ?? '', /longer than 164/);
  });

  it('reserves names starting with # other than #server-to-user-', () => {
    for (const name of ['#', '#room', '#server-to-users-1', '#server-to-user', '#private-a']) {
      assert.match(channelNameProblem(name) ?? '', /reserved/, name);
    }
  });

  it('requires a valid user id in #server-to-user- channels', () => {
    assert.equal(channelNameProblem('#server-to-user-user_1@example.com'), null);
    for (const name of ['#server-to-user-', '#server-to-user-a b', '#server-to-user-a#b', '#server-to-user-a/b']) {
      assert.match(channelNameProblem(name) ?? '', /invalid user id/, name);
    }
  });

  it('rejects every bare prefix', () => {
    for (const name of ['private-', 'presence-', 'private-encrypted-', 'private-cache-', 'private-encrypted-cache-', 'presence-cache-', 'cache-']) {
      assert.match(channelNameProblem(name) ?? '', /no name after its prefix/, name);
    }
  });

  it('accepts prefix words without their dash as public names', () => {
    for (const name of ['private', 'presence', 'cache', 'private-encrypted', 'presence-cache']) {
      assert.equal(channelNameProblem(name), null, name);
    }
  });

  it('never throws, and returns null or a non-empty string, for arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.anything()), (value) => {
        const problem = channelNameProblem(value);
        return problem === null || (typeof problem === 'string' && problem.length > 0);
      }),
    );
  });

  it('accepts exactly the names that match the documented grammar', () => {
    const alphabet = fc.constantFrom(...'aZ9_-=@,.;#/ é'.split(''));
    const name = fc.oneof(
      fc.string({ unit: alphabet, minLength: 1, maxLength: 30 }),
      fc.constantFrom('private-', 'presence-', 'cache-', '#server-to-user-').chain((prefix) =>
        fc.string({ unit: alphabet, maxLength: 30 }).map((rest) => prefix + rest),
      ),
    );
    const bare = new Set(['private-', 'presence-', 'cache-']);
    fc.assert(
      fc.property(name, (value) => {
        const body = value.startsWith(SERVER_TO_USER_PREFIX) ? value.slice(SERVER_TO_USER_PREFIX.length) : value;
        const valid = body.length > 0 && /^[A-Za-z0-9_\-=@,.;]+$/.test(body) && !bare.has(value);
        assert.equal(channelNameProblem(value) === null, valid, JSON.stringify(value));
      }),
    );
  });
});

describe('assertChannelName', () => {
  it('passes valid names', () => {
    assert.doesNotThrow(() => assertChannelName('private-a'));
  });

  it('throws a non-closing invalid_channel_name error without a Pusher code, with the problem as its message', () => {
    assert.throws(
      () => assertChannelName('bad name'),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.code === 'invalid_channel_name' &&
        error.pusherCode === null &&
        error.closesConnection === false &&
        error.message === channelNameProblem('bad name'),
    );
    assert.throws(() => assertChannelName(42), (error: unknown) => error instanceof ProtocolError && /non-empty string/.test(error.message));
  });
});

describe('serverToUserId', () => {
  it('returns the id after the prefix, verbatim', () => {
    assert.equal(serverToUserId('#server-to-user-42'), '42');
    assert.equal(serverToUserId('#server-to-user-a-b.c@d'), 'a-b.c@d');
    assert.equal(serverToUserId('#server-to-user-#server-to-user-'), '#server-to-user-');
  });
});
