import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { closeReason } from '../../src/transport/ws-transport.js';

describe('closeReason', () => {
  it('keeps a reason of up to 123 bytes as is', () => {
    assert.equal(closeReason('Server is shutting down; reconnect'), 'Server is shutting down; reconnect');
    assert.equal(closeReason('x'.repeat(123)), 'x'.repeat(123));
  });

  it('cuts before a multi-byte character that crosses the limit', () => {
    assert.equal(closeReason(`${'a'.repeat(122)}€`), 'a'.repeat(122));
    assert.equal(closeReason(`${'a'.repeat(121)}😀`), 'a'.repeat(121));
  });

  it('always returns a prefix of at most 123 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (reason) => {
        const cut = closeReason(reason);
        assert.ok(Buffer.byteLength(cut) <= 123);
        assert.ok(reason.startsWith(cut));
        if (Buffer.byteLength(reason) <= 123) assert.equal(cut, reason);
        else assert.ok(Buffer.byteLength(cut) > 123 - 4, 'cuts at most one character short');
      }),
    );
  });
});
