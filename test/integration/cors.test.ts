import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('CORS on the HTTP API', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  it('lets a page on another origin read error answers, so a refused token is not a network error', async () => {
    const response = await fetch(`${harness.baseUrl}/apps/${harness.app.id}/users/u1/notifications`, {
      headers: { origin: 'https://app.example.com', authorization: 'Bearer not-a-token' },
    });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
  });

  it('answers a preflight with the methods and headers the client SDK uses', async () => {
    const response = await fetch(`${harness.baseUrl}/apps/${harness.app.id}/auth`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(response.status, 204);
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /authorization/);
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /POST/);
  });
});
