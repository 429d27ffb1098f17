/** The query string parse shared by the Pusher signature check and the route handlers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuery } from '../../src/http/query.js';
import { HttpError } from '../../src/protocol/errors.js';

describe('parseQuery', () => {
  it('lower-cases names, as the signature signs them, and keeps values as sent', () => {
    const query = parseQuery('LIMIT=5&Status=Unread&auth_key=k&x=%20a%2Bb');
    assert.deepEqual([...query], [['limit', '5'], ['status', 'Unread'], ['auth_key', 'k'], ['x', ' a+b']]);
  });

  it('refuses a name given twice, in any case', () => {
    for (const text of ['limit=1&limit=2', 'limit=1&LIMIT=500', 'a=1&A=1']) {
      assert.throws(() => parseQuery(text), (error: unknown) => error instanceof HttpError && error.code === 'bad_request', text);
    }
  });

  it('reads an empty query as no parameters', () => {
    assert.deepEqual([...parseQuery('')], []);
  });
});
