/**
 * InboxClient in real Node processes: dispose() leaves nothing that keeps a process alive, and
 * the terminal example (examples/node-inbox.ts) prints the first sync and live changes, then
 * exits on its own after --once or on SIGINT.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NodeChild } from '../helpers/child.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { tokenFor } from '../helpers/inbox.js';
import { pushMany } from '../helpers/inbox-client.js';
import { waitFor } from '../helpers/wait.js';

const DISPOSE_CHILD = fileURLToPath(new URL('./fixtures/dispose-child.js', import.meta.url));
const NODE_EXAMPLE = fileURLToPath(new URL('../../examples/node-inbox.js', import.meta.url));

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('InboxClient in Node processes', () => {
  let harness: Harness;
  const children: NodeChild[] = [];
  const child = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const started = new NodeChild(script, args, env);
    children.push(started);
    return started;
  };
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
  });
  after(async () => {
    for (const c of children) c.kill();
    await harness.close();
  });

  const childOptions = async (userId: string, mode: string, port = harness.port) =>
    JSON.stringify({ port, appId: TEST_APP.id, appKey: TEST_APP.key, userId, token: await tokenFor(harness.app, userId), mode });

  it('lets a process exit by itself after dispose() of a synced client with work in progress', { timeout: 10_000 }, async () => {
    await pushMany(harness, 'quinn', 2);
    const process = child(DISPOSE_CHILD, [await childOptions('quinn', 'synced')]);
    await process.line(/^synced 2 2$/);
    await process.line(/^disposed$/);
    assert.equal(await process.exit(3_000), 0);
    assert.ok(process.stdout.includes('iterator finished'), 'the for-await loop ended');
    assert.ok(process.stdout.includes('open ended: HeraldDisposedError'), 'the request in flight was aborted');
    await waitFor(() => (harness.server.realtime.hubOf(harness.app.id)?.channels.get('private-quinn')?.subscribers.size ?? 0) === 0, 'the server to see the socket closed');
  });

  it('lets a process exit by itself after dispose() during init()', { timeout: 10_000 }, async () => {
    const process = child(DISPOSE_CHILD, [await childOptions('rosa', 'during-init')]);
    await process.line(/^disposed$/);
    assert.equal(await process.exit(3_000), 0);
    assert.ok(process.stdout.includes('init ended: HeraldDisposedError'));
  });

  it('lets a process exit by itself after dispose() while pusher-js retries an unreachable server', { timeout: 10_000 }, async () => {
    const process = child(DISPOSE_CHILD, [await childOptions('sol', 'unreachable', await closedPort())]);
    await process.line(/^disposed$/);
    assert.equal(await process.exit(3_000), 0);
    assert.ok(process.stdout.includes('init ended: HeraldDisposedError'));
  });

  it('runs the terminal example once: prints the first sync and exits by itself', { timeout: 10_000 }, async () => {
    await pushMany(harness, 'tess', 2, 'hello tess');
    const example = child(NODE_EXAMPLE, ['--once', '--port', String(harness.port), '--app-id', TEST_APP.id, '--app-key', TEST_APP.key, '--user', 'tess'], {
      HERALD_TOKEN: await tokenFor(harness.app, 'tess'),
    });
    assert.equal(await example.exit(5_000), 0, `stderr: ${example.stderr.join('\n')}`);
    assert.deepEqual(example.stdout, [
      `inbox of tess at 127.0.0.1:${harness.port}`,
      'in sync: 2 notifications',
      '  #2 [unread] hello tess 1',
      '  #1 [unread] hello tess 0',
      'unread: 2',
    ]);
  });

  it('runs the terminal example live: prints new notifications and the badge, exits on SIGINT', { timeout: 10_000 }, async () => {
    const example = child(NODE_EXAMPLE, [], {
      HERALD_PORT: String(harness.port),
      HERALD_APP_ID: TEST_APP.id,
      HERALD_APP_KEY: TEST_APP.key,
      HERALD_USER_ID: 'uma',
      HERALD_TOKEN: await tokenFor(harness.app, 'uma'),
    });
    await example.line(/^unread: 0$/);
    await pushMany(harness, 'uma', 1, 'live for uma');
    await example.line(/^new: #1 \[unread\] live for uma 0$/);
    await example.line(/^unread: 1$/);
    example.send('SIGINT');
    assert.equal(await example.exit(3_000), 0);
    assert.ok(example.stdout.includes('bye'));
  });

  it('makes the terminal example fail clearly with a refused token', { timeout: 10_000 }, async () => {
    const example = child(NODE_EXAMPLE, ['--port', String(harness.port), '--app-id', TEST_APP.id, '--app-key', TEST_APP.key, '--user', 'vic', '--token', 'not-a-token']);
    assert.equal(await example.exit(5_000), 1);
    assert.ok(example.stderr.some((l) => l.startsWith('could not open the inbox:')), example.stderr.join('\n'));
  });
});
