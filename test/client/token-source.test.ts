/** TokenSource: when the client asks token() again, and when it reuses what it has. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenSource } from '../../src/client/token-source.js';

/** An unsigned JWT-shaped token with an `exp` claim (the client reads `exp`, the server verifies). */
const tokenExpiringAt = (exp: number, serial: number): string =>
  `${btoa(JSON.stringify({ alg: 'none' }))}.${btoa(JSON.stringify({ exp, serial }))}.sig`;

describe('TokenSource', () => {
  it('reuses a token until the refresh margin before its expiry, then asks once for all callers', async () => {
    let nowMs = 1_000_000_000;
    let calls = 0;
    const tokens = new TokenSource(() => tokenExpiringAt(nowMs / 1000 + 3600, ++calls), () => nowMs);
    const first = await tokens.get();
    assert.equal(await tokens.get(), first);
    nowMs += 3_575_000; // inside the 30 s margin before expiry
    const [a, b] = await Promise.all([tokens.get(), tokens.get()]);
    assert.equal(a, b);
    assert.notEqual(a, first);
    assert.equal(calls, 2);
  });

  it('replaces a refused token that another caller already replaced without asking token() again', async () => {
    let calls = 0;
    const tokens = new TokenSource(() => tokenExpiringAt(2_000_000_000, ++calls), () => 1_000_000_000_000);
    const sentWith = await tokens.get();
    const replaced = await tokens.refresh(); // another request's refusal came back first
    assert.equal(calls, 2);
    assert.equal(await tokens.replaceRefused(sentWith), replaced);
    assert.equal(calls, 2, 'the late refusal of the old token is answered with the new one');

    const fresh = await tokens.replaceRefused(replaced);
    assert.notEqual(fresh, replaced, 'a refusal of the current token asks for a new one');
    assert.equal(calls, 3);
  });

  it('joins a refresh that is under way when a refusal arrives', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tokens = new TokenSource(async () => {
      calls++;
      if (calls === 2) await gate;
      return tokenExpiringAt(2_000_000_000, calls);
    }, () => 1_000_000_000_000);
    const sentWith = await tokens.get();
    const refreshing = tokens.refresh();
    const replacing = tokens.replaceRefused(sentWith);
    release();
    assert.equal(await replacing, await refreshing);
    assert.equal(calls, 2);
  });
});
