/**
 * Hostile HTTP input against the real server process: bodies that are not JSON (fast-check),
 * wrong content types, oversized bodies, deeply nested JSON, slow headers (the production header
 * timeout), and path tricks in ids. Each gets its status and a JSON `{ error, code }` body, the
 * server stays up, and its memory comes back down.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { defineApp } from '../../src/config/apps.js';
import type { HeraldProcess } from '../helpers/herald-process.js';
import { signedRequest } from '../helpers/http.js';
import { signedCall, tokenFor, type ListAnswer, type PushAnswer } from '../helpers/inbox.js';
import { sleep } from '../helpers/wait.js';
import { mb, memoryOf, signedPath, startWithApps, type Memory } from './support.js';

const APP = defineApp({ id: 'http-app', key: 'http-key', secret: 'http-secret', max_backend_events_per_second: null, max_read_requests_per_second: null });

/** A raw request, path sent exactly as given (fetch would normalise `../`). */
function rawRequest(port: number, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json: Record<string, unknown> | null }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path.slice(0, 100)} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A slow-loris client: sends a request line, then one header line every `gapMs`, never ending the
 * headers. Resolves with how long until the server closed, and the status line it answered.
 */
function slowLoris(port: number, gapMs: number): Promise<{ ms: number; statusLine: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    let received = '';
    let sent = 0;
    socket.write('GET /health HTTP/1.1\r\nHost: herald\r\n');
    const timer = setInterval(() => socket.write(`X-Slow-${sent++}: ${'a'.repeat(10)}\r\n`), gapMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - started, statusLine: received.split('\r\n')[0] });
    });
    // The test's own bound: a server that never cuts it fails the assertion below, not the run.
    setTimeout(() => socket.destroy(), 20_000).unref();
  });
}

describe('hostile HTTP input (real process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-hardening-http-'));
  const children = new Set<ChildProcess>();
  let node: HeraldProcess;
  let baseline: Memory;
  let loris: Promise<{ ms: number; statusLine: string }>;

  before(async () => {
    node = await startWithApps({ dir, tracker: children, apps: [{ id: APP.id, key: APP.key, secret: APP.secret, max_backend_events_per_second: null, max_read_requests_per_second: null }] });
    // Started first and checked last: the production header timeout (10 s) runs while the rest does.
    loris = slowLoris(node.port, 500);
    for (let i = 0; i < 50; i++) await signedRequest(node.baseUrl, APP, { method: 'POST', path: '/events', body: JSON.stringify({ name: 'warm', channel: 'warm', data: '{}' }) });
    await sleep(200);
    baseline = await memoryOf(node);
  });
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: string | undefined) => signedRequest(node.baseUrl, APP, { method: 'POST', path, body });

  /** The server is up and serves a valid request. */
  async function stillServing(): Promise<void> {
    const reply = await post('/events', JSON.stringify({ name: 'alive', channel: 'alive', data: '{}' }));
    assert.equal(reply.status, 200, reply.text);
  }

  it('answers any body that is not a JSON object with 400 and says why (property)', { timeout: 30_000 }, async () => {
    const notAnObject = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)).map((value) => JSON.stringify(value)),
    ).filter((text) => {
      try {
        const value: unknown = JSON.parse(text);
        return typeof value !== 'object' || value === null || Array.isArray(value);
      } catch {
        return text.length > 0;
      }
    });
    const route = fc.constantFrom('/events', '/batch_events', '/notifications', '/users/u/notifications/open');
    await fc.assert(
      fc.asyncProperty(route, notAnObject, async (path, body) => {
        const reply = await post(path, body);
        assert.equal(reply.status, 400, `${path} ${JSON.stringify(body).slice(0, 100)}: ${reply.text}`);
        assert.equal(reply.body?.code, 'bad_request');
        assert.match(String(reply.body?.error), /JSON/);
      }),
      { numRuns: 150 },
    );
    await stillServing();
  });

  it('answers random JSON objects on every write route with 200 or a 4xx naming the problem, never 500 (property)', { timeout: 30_000 }, async () => {
    const route = fc.constantFrom('/events', '/batch_events', '/notifications', '/users/u/notifications/open');
    const object = fc.dictionary(
      fc.oneof(fc.constantFrom('name', 'data', 'channel', 'channels', 'batch', 'user_ids', 'notification', 'ids', 'all', 'socket_id', 'info', '__proto__', 'constructor'), fc.string({ maxLength: 20 })),
      fc.jsonValue({ maxDepth: 4 }),
      { maxKeys: 6 },
    );
    await fc.assert(
      fc.asyncProperty(route, object, async (path, value) => {
        const reply = await post(path, JSON.stringify(value));
        assert.ok(reply.status === 200 || (reply.status >= 400 && reply.status < 500 && reply.status !== 401), `${path} ${JSON.stringify(value).slice(0, 200)} -> ${reply.status} ${reply.text}`);
        if (reply.status !== 200) assert.ok(typeof reply.body?.error === 'string' && typeof reply.body?.code === 'string', reply.text);
      }),
      { numRuns: 200 },
    );
    await stillServing();
  });

  it('refuses bodies nested deeper than 100 levels with 400, at any depth', async () => {
    for (const depth of [101, 10_000, 200_000]) {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      for (const [path, body] of [
        ['/events', `{"name":"e","channel":"c","data":${deep}}`],
        ['/notifications', `{"user_ids":["u"],"notification":{"content":"x","payload":${deep}}}`],
      ] as const) {
        const reply = await post(path, body);
        assert.equal(reply.status, 400, `${path} at depth ${depth}: ${reply.text}`);
        assert.match(String(reply.body?.error), /nested more than 100 levels/);
      }
    }
    // The body object and the notification are two levels: a payload 98 deep makes 100.
    const fine = '['.repeat(98) + ']'.repeat(98);
    assert.equal((await post('/notifications', `{"user_ids":["deep"],"notification":{"content":"x","payload":${fine}}}`)).status, 200);
    await stillServing();
  });

  /** A signed POST with a chosen content type. */
  const rawSignedPost = (path: string, body: string, contentType: string) => rawRequest(node.port, 'POST', signedPath(APP, 'POST', path, body), body, { 'content-type': contentType });

  it('reads the body as JSON whatever the content type says, and refuses form data on JSON routes', async () => {
    const body = JSON.stringify({ name: 'typed', channel: 'typed', data: '{}' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-16']) {
      const reply = await rawSignedPost('/events', body, type);
      assert.equal(reply.status, 200, `${type}: ${reply.text}`);
    }
    const form = await rawSignedPost('/events', 'name=typed&channel=typed&data=x', 'application/x-www-form-urlencoded');
    assert.equal(form.status, 400);
    assert.equal(form.json?.code, 'bad_request');
    // The built-in auth route reads what its content type says: JSON declared, form sent.
    const token = await tokenFor(APP, 'u');
    const auth = await rawRequest(node.port, 'POST', `/apps/${APP.id}/auth`, 'socket_id=1.1&channel_name=private-u', { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    assert.equal(auth.status, 400, auth.text);
    assert.match(String(auth.json?.error), /JSON/);
  });

  it('answers 413 to oversized bodies, declared or streamed, and keeps serving', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    const declared = await post('/events', big);
    assert.equal(declared.status, 413);
    assert.equal(declared.body?.code, 'payload_too_large');
    // Chunked, no Content-Length, signed (the body is read only after the signature): cut once past the limit.
    const streamedPath = signedPath(APP, 'POST', '/events', 'a'.repeat(40 * 64 * 1024));
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: node.port, method: 'POST', path: streamedPath, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write(Buffer.alloc(64 * 1024, 0x61));
      req.end();
    });
    assert.equal(streamed, 413);
    const push = await post('/notifications', JSON.stringify({ user_ids: ['u'], notification: { content: 'x', payload: 'y'.repeat(4 * 1024 * 1024) } }));
    assert.equal(push.status, 413);
    const payload = await post('/notifications', JSON.stringify({ user_ids: ['u'], notification: { content: 'x', payload: 'y'.repeat(20 * 1024) } }));
    assert.equal(payload.status, 413, 'a notification over max_event_payload_bytes');
    assert.match(String(payload.body?.error), /larger than 10240 bytes/);
    const url = await rawRequest(node.port, 'GET', `/apps/${APP.id}/channels?x=${'a'.repeat(100 * 1024)}`);
    assert.equal(url.status, 431, 'headers over 16 KB');
    await stillServing();
  });

  it('keeps path tricks in ids inside the inbox: stored and returned verbatim, or refused', async () => {
    const tricky = ['..', '../../etc/passwd', 'a/b', '..\\..\\windows', 'ünïcødé-😀', '%2F', '.', 'x'.repeat(200)];
    for (const userId of tricky) {
      const id = `n-${tricky.indexOf(userId)}`;
      const pushed = await signedCall<PushAnswer>(node.baseUrl, APP, 'POST', '/notifications', { user_ids: [userId], notification: { id, content: `for ${userId}` } });
      assert.equal(pushed.status, 200, `push to ${userId}`);
      assert.equal(pushed.body.notifications[0].user_id, userId);
      // Raw requests: fetch would resolve `.` and `..` segments (even percent-encoded) before sending.
      const path = `/users/${encodeURIComponent(userId)}/notifications`;
      const list = await rawRequest(node.port, 'GET', signedPath(APP, 'GET', path));
      assert.equal(list.status, 200, `list of ${userId}: ${list.text}`);
      const rows = (list.json as unknown as ListAnswer).notifications;
      assert.deepEqual(rows.map((n) => [n.id, n.content]), [[id, `for ${userId}`]], `${userId} reads back only its own`);
      const token = await tokenFor(APP, userId);
      const own = await rawRequest(node.port, 'GET', `/apps/${APP.id}${path}`, undefined, { authorization: `Bearer ${token}` });
      assert.equal(own.status, 200, `${userId} with its own token: ${own.text}`);
      assert.equal((own.json as unknown as ListAnswer).notifications.length, 1);
    }
    // Raw paths, unnormalised: `..` is a user id like any other, never a way out of the route.
    const dotdot = await rawRequest(node.port, 'GET', signedPath(APP, 'GET', '/users/../notifications'));
    assert.equal(dotdot.status, 200, dotdot.text);
    assert.equal((dotdot.json?.notifications as unknown[]).length, 1, 'the inbox of the user named ".."');
    const escape = await rawRequest(node.port, 'GET', `/apps/${APP.id}/users/../../../health`);
    assert.equal(escape.status, 404, 'no route: the path is never resolved like a file path');
    assert.equal((await rawRequest(node.port, 'GET', `/apps/../apps/${APP.id}/channels`)).status, 404);
    const slash = await rawRequest(node.port, 'GET', signedPath(APP, 'GET', '/users/a%2Fb/notifications'));
    assert.equal(slash.status, 200, slash.text);
    assert.equal((slash.json?.notifications as { id: string }[])[0]?.id, 'n-2', '%2F decodes to the user "a/b"');
    // Refused: control characters, over-long ids, broken percent-encoding.
    for (const [path, status] of [
      ['/users/a%00b/notifications', 400],
      ['/users/a%0Ab/notifications', 400],
      [`/users/${'y'.repeat(201)}/notifications`, 400],
      ['/users/%E0%A4%A/notifications', 404],
      ['/users/%ZZ/notifications', 404],
    ] as const) {
      const reply = await rawRequest(node.port, 'GET', signedPath(APP, 'GET', path));
      assert.equal(reply.status, status, `${path}: ${reply.text}`);
      assert.equal(typeof reply.json?.error, 'string');
    }
    // Notification ids: unknown tricks are 404, never another user's row.
    for (const id of ['..', '..%2Fn-0', '%2E%2E', 'n-1%00']) {
      const reply = await rawRequest(node.port, 'DELETE', signedPath(APP, 'DELETE', `/users/a%2Fb/notifications/${id}`));
      assert.ok(reply.status === 404 || reply.status === 400, `DELETE ${id}: ${reply.status} ${reply.text}`);
    }
    await stillServing();
  });

  it('keeps its memory near the baseline after a flood of bad requests', { timeout: 30_000 }, async (t) => {
    const junk = [
      () => post('/events', '{"name": '),
      () => post('/events', JSON.stringify({ name: 'x', channels: Array.from({ length: 500 }, (_, i) => `c${i}`), data: 'x' })),
      () => post('/notifications', JSON.stringify({ user_ids: Array.from({ length: 20_000 }, (_, i) => `u${i}`), notification: { content: 'x' } })),
      () => post('/events', 'x'.repeat(2 * 1024 * 1024)),
      () => signedRequest(node.baseUrl, APP, { method: 'POST', path: '/events', body: '{}', secret: 'wrong' }),
      () => rawRequest(node.port, 'GET', `/apps/${APP.id}/users/%ZZ/notifications`),
    ];
    for (let round = 0; round < 40; round++) await Promise.all(junk.map((send) => send().catch(() => undefined)));
    let after = await memoryOf(node);
    const deadline = Date.now() + 8_000;
    while (after.heapUsedBytes - baseline.heapUsedBytes > 48 * 1024 * 1024 && Date.now() < deadline) {
      await sleep(500);
      after = await memoryOf(node);
    }
    t.diagnostic(`heap used ${mb(baseline.heapUsedBytes)} -> ${mb(after.heapUsedBytes)}, RSS ${mb(baseline.rssBytes)} -> ${mb(after.rssBytes)}`);
    assert.ok(after.heapUsedBytes - baseline.heapUsedBytes < 48 * 1024 * 1024, `heap grew by ${mb(after.heapUsedBytes - baseline.heapUsedBytes)}`);
    assert.ok(after.rssBytes - baseline.rssBytes < 200 * 1024 * 1024, `RSS grew by ${mb(after.rssBytes - baseline.rssBytes)}`);
    await stillServing();
  });

  it('cuts a slow-loris connection at the production header timeout (10 s) with 408', { timeout: 20_000 }, async () => {
    const { ms, statusLine } = await loris;
    assert.equal(statusLine, 'HTTP/1.1 408 Request Timeout');
    assert.ok(ms >= 9_500 && ms < 15_000, `cut after ${ms} ms (10 s, checked every second; slack for a loaded machine)`);
    await stillServing();
  });
});
