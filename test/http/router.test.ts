import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Router, type RouteMatch } from '../../src/http/router.js';

function pusherRouter(): Router<string> {
  return new Router<string>()
    .add('POST', '/apps/:appId/events', 'events')
    .add('POST', '/apps/:appId/batch_events', 'batch')
    .add('GET', '/apps/:appId/channels', 'channels')
    .add('GET', '/apps/:appId/channels/:channel', 'channel')
    .add('GET', '/apps/:appId/channels/:channel/users', 'users')
    .add('POST', '/apps/:appId/users/:userId/terminate_connections', 'terminate')
    .add('GET', '/health', 'health');
}

function found<H>(match: RouteMatch<H>): { handler: H; params: Record<string, string> } {
  if (match.kind !== 'found') assert.fail(`expected a match, got ${JSON.stringify(match)}`);
  return { handler: match.handler, params: match.params };
}

describe('Router: matching', () => {
  const router = pusherRouter();

  it('matches static routes with no params', () => {
    assert.deepEqual(found(router.match('GET', '/health')), { handler: 'health', params: {} });
  });

  it('extracts named params', () => {
    assert.deepEqual(found(router.match('POST', '/apps/3/events')), { handler: 'events', params: { appId: '3' } });
    assert.deepEqual(found(router.match('GET', '/apps/app-1/channels/presence-room/users')), {
      handler: 'users',
      params: { appId: 'app-1', channel: 'presence-room' },
    });
    assert.deepEqual(found(router.match('POST', '/apps/a/users/u-1/terminate_connections')), {
      handler: 'terminate',
      params: { appId: 'a', userId: 'u-1' },
    });
  });

  it('URL-decodes params', () => {
    assert.deepEqual(found(router.match('GET', '/apps/1/channels/%23server-to-user-42')).params, { appId: '1', channel: '#server-to-user-42' });
    assert.deepEqual(found(router.match('GET', '/apps/1/channels/a%20b')).params, { appId: '1', channel: 'a b' });
    // An encoded slash stays inside its segment.
    assert.deepEqual(found(router.match('GET', '/apps/1/channels/a%2Fb')).params, { appId: '1', channel: 'a/b' });
    assert.deepEqual(found(router.match('GET', '/apps/1/channels/%E2%98%83')).params, { appId: '1', channel: '☃' });
  });

  it('matches a param to exactly one non-empty segment', () => {
    assert.equal(router.match('GET', '/apps//channels').kind, 'not-found');
    assert.equal(router.match('GET', '/apps/1/channels/').kind, 'not-found');
    assert.equal(router.match('GET', '/apps/1/2/channels').kind, 'not-found');
  });

  it('matches the whole path only', () => {
    for (const path of ['/health/', '/healthz', '/x/health', '/apps/1/events/extra', 'apps/1/events', '/APPS/1/events', '']) {
      for (const method of ['GET', 'POST']) assert.equal(router.match(method, path).kind, 'not-found', `${method} ${path}`);
    }
  });

  it('treats regex characters in literal segments literally', () => {
    const special = new Router<string>().add('GET', '/a.b/(x)/c+d/:id', 'special');
    assert.deepEqual(found(special.match('GET', '/a.b/(x)/c+d/7')), { handler: 'special', params: { id: '7' } });
    assert.equal(special.match('GET', '/aXb/(x)/c+d/7').kind, 'not-found');
    assert.equal(special.match('GET', '/a.b/x/c+d/7').kind, 'not-found');
    assert.equal(special.match('GET', '/a.b/(x)/cccd/7').kind, 'not-found');
  });

  it('prefers the first route added when several match', () => {
    const router2 = new Router<string>().add('GET', '/items/:id', 'param').add('GET', '/items/special', 'literal');
    assert.equal(found(router2.match('GET', '/items/special')).handler, 'param');
  });

  it('compares methods exactly as given', () => {
    assert.equal(router.match('get', '/health').kind, 'method-not-allowed');
  });

  it('never throws for arbitrary paths', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('GET', 'POST', 'PUT'), (rest, method) => {
        const match = router.match(method, `/apps/1/channels/${rest}`);
        return ['found', 'method-not-allowed', 'not-found'].includes(match.kind);
      }),
    );
  });

  it('round-trips any channel name through percent-encoding', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (name) => {
        const { params } = found(router.match('GET', `/apps/1/channels/${encodeURIComponent(name)}`));
        return params.channel === name;
      }),
    );
  });
});

describe('Router: method not allowed', () => {
  const router = pusherRouter();

  it('lists the methods the path does allow', () => {
    assert.deepEqual(router.match('GET', '/apps/1/events'), { kind: 'method-not-allowed', allowed: ['POST'] });
    assert.deepEqual(router.match('DELETE', '/apps/1/channels/room'), { kind: 'method-not-allowed', allowed: ['GET'] });
  });

  it('lists several methods in the order their routes were added', () => {
    const multi = new Router<string>().add('GET', '/things/:id', 'get').add('PUT', '/things/:id', 'put').add('DELETE', '/things/:id', 'delete');
    assert.deepEqual(multi.match('POST', '/things/1'), { kind: 'method-not-allowed', allowed: ['GET', 'PUT', 'DELETE'] });
    assert.equal(found(multi.match('PUT', '/things/1')).handler, 'put');
  });

  it('lists each method once, even when several routes with that method match', () => {
    const overlapping = new Router<string>().add('GET', '/items/:id', 'param').add('GET', '/items/special', 'literal').add('POST', '/items/:id', 'post');
    assert.deepEqual(overlapping.match('DELETE', '/items/special'), { kind: 'method-not-allowed', allowed: ['GET', 'POST'] });
  });

  it('is not-found when no route matches the path at all', () => {
    assert.deepEqual(router.match('GET', '/nope'), { kind: 'not-found' });
    assert.deepEqual(router.match('POST', '/apps/1'), { kind: 'not-found' });
  });
});

describe('Router: bad percent-encoding', () => {
  const router = pusherRouter();

  it('does not match a param that is not valid percent-encoding', () => {
    for (const channel of ['%', '%E0%A4%A', '%zz', 'a%2', '%FF', '%C0%AF', '%ED%A0%80']) {
      assert.deepEqual(router.match('GET', `/apps/1/channels/${channel}`), { kind: 'not-found' }, channel);
    }
  });

  it('falls through to a later route whose params do decode', () => {
    const router2 = new Router<string>().add('GET', '/files/:name', 'param').add('GET', '/files/%zz', 'literal');
    assert.equal(found(router2.match('GET', '/files/%zz')).handler, 'literal');
  });

  it('leaves literal segments undecoded', () => {
    assert.equal(router.match('GET', '/%68ealth').kind, 'not-found');
  });
});
