import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Pusher from 'pusher';
import { isSocketId, newSocketId } from '../../src/protocol/socket-id.js';

describe('newSocketId', () => {
  it('has the N.N shape pusher-js and the SDKs expect', () => {
    for (let i = 0; i < 1000; i++) {
      const id = newSocketId();
      assert.match(id, /^[1-9]\d*\.\d+$/);
      assert.ok(isSocketId(id), id);
    }
  });

  it('uses parts that are safe integers, the first within 1..2^31-1', () => {
    for (let i = 0; i < 1000; i++) {
      const [first, second] = newSocketId().split('.').map(Number);
      assert.ok(Number.isSafeInteger(first) && first >= 1 && first < 2 ** 31, String(first));
      assert.ok(Number.isSafeInteger(second) && second >= 0, String(second));
    }
  });

  it('never repeats over 100,000 ids', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) ids.add(newSocketId());
    assert.equal(ids.size, 100_000);
  });

  it('never repeats its second part over 100,000 ids, whatever the random first part', () => {
    const seconds = new Set<string>();
    for (let i = 0; i < 100_000; i++) seconds.add(newSocketId().split('.')[1]);
    assert.equal(seconds.size, 100_000);
  });

  it('is accepted by the official SDK, which validates socket ids', () => {
    const sdk = new Pusher({ appId: '1', key: 'key', secret: 'secret', host: 'localhost' });
    for (let i = 0; i < 100; i++) assert.match(sdk.authorizeChannel(newSocketId(), 'private-a').auth, /^key:[0-9a-f]{64}$/);
    assert.throws(() => sdk.authorizeChannel('1.2.3', 'private-a'), /Invalid socket id/);
  });
});

describe('isSocketId', () => {
  it('accepts digits, a dot and digits', () => {
    for (const value of ['1.1', '1234.1234', '0.0', '123456789.987654321000']) assert.equal(isSocketId(value), true, value);
  });

  it('rejects everything else', () => {
    for (const value of ['', '.', '1.', '.1', '1', '1.2.3', 'a.b', '1,2', ' 1.2', '1.2 ', '1.2\n', '\n1.2', '-1.2', '1.-2', '+1.2', '1e3.2', '١.٢']) {
      assert.equal(isSocketId(value), false, JSON.stringify(value));
    }
    for (const value of [undefined, null, 1.2, 12, {}, ['1.2'], true]) assert.equal(isSocketId(value), false, String(value));
  });

  it('agrees with the pattern for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 12 }), (value) => isSocketId(value) === /^[0-9]+\.[0-9]+$/.test(value)));
    fc.assert(fc.property(fc.nat(), fc.nat(), (a, b) => isSocketId(`${a}.${b}`)));
  });
});
