/**
 * A terminal inbox on the client SDK: connects as one user, prints the notifications and the
 * unread badge as they change, and exits cleanly on Ctrl-C (or after the first sync with --once).
 *
 *   npm run build
 *   node dist/examples/node-inbox.js --user 42 --token "$TOKEN" [--host 127.0.0.1 --port 6001]
 *
 * Every option also reads from the environment: HERALD_HOST, HERALD_PORT, HERALD_TLS=true,
 * HERALD_APP_ID, HERALD_APP_KEY, HERALD_USER_ID, HERALD_TOKEN.
 */
import { parseArgs } from 'node:util';
// In an app: import { InboxClient, type Notification } from 'herald/client';
import { InboxClient, type Notification } from '../src/client/index.js';

const USAGE = `usage: node-inbox --user ID --token JWT [--host H] [--port P] [--tls] [--app-id ID] [--app-key KEY] [--page-size N] [--once]`;

/** The example's settings, from flags, then the environment, then defaults. */
interface Settings {
  readonly host: string;
  readonly port: number;
  readonly useTLS: boolean;
  readonly appId: string;
  readonly appKey: string;
  readonly userId: string;
  readonly token: string;
  readonly pageSize: number;
  readonly once: boolean;
}

function readSettings(argv: string[], env: NodeJS.ProcessEnv): Settings | string {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      tls: { type: 'boolean' },
      'app-id': { type: 'string' },
      'app-key': { type: 'string' },
      user: { type: 'string' },
      token: { type: 'string' },
      'page-size': { type: 'string' },
      once: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return USAGE;
  const userId = values.user ?? env.HERALD_USER_ID;
  const token = values.token ?? env.HERALD_TOKEN;
  if (!userId || !token) return `a user id and a token are needed\n${USAGE}`;
  const port = Number(values.port ?? env.HERALD_PORT ?? 6001);
  const pageSize = Number(values['page-size'] ?? 20);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `--port must be a port number\n${USAGE}`;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) return `--page-size must be 1 to 500\n${USAGE}`;
  return {
    host: values.host ?? env.HERALD_HOST ?? '127.0.0.1',
    port,
    useTLS: values.tls ?? env.HERALD_TLS === 'true',
    appId: values['app-id'] ?? env.HERALD_APP_ID ?? 'app-id',
    appKey: values['app-key'] ?? env.HERALD_APP_KEY ?? 'app-key',
    userId,
    token,
    pageSize,
    once: values.once ?? false,
  };
}

/** One line per notification: `#seq [unread] heading: content`. */
function line(n: Notification): string {
  const state = n.opened ? 'opened' : 'unread';
  return `#${n.seq} [${state}] ${n.heading ? `${n.heading}: ` : ''}${n.content}`;
}

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2), process.env);
  if (typeof settings === 'string') {
    console.error(settings);
    process.exitCode = 2;
    return;
  }
  const inbox = new InboxClient({
    host: settings.host,
    port: settings.port,
    useTLS: settings.useTLS,
    appId: settings.appId,
    appKey: settings.appKey,
    userId: settings.userId,
    token: settings.token,
    pageSize: settings.pageSize,
  });
  inbox.errors.listen((error) => console.error(`error: ${error.name}: ${error.message}`));
  console.log(`inbox of ${settings.userId} at ${settings.host}:${settings.port}`);
  try {
    await inbox.init();
  } catch (error) {
    console.error(`could not open the inbox: ${(error as Error).message}`);
    process.exitCode = 1;
    await inbox.dispose();
    return;
  }

  console.log(`in sync: ${inbox.notifications.length} notifications${inbox.hasMore ? ' (more with a larger --page-size)' : ''}`);
  for (const n of inbox.notifications) console.log(`  ${line(n)}`);
  // A listener hears the current value at once: this prints the badge now, and on every change.
  inbox.pendingNotificationsCountStream.listen((count) => console.log(`unread: ${count}`));
  if (settings.once) {
    // Nothing else holds the process: once disposed, Node exits by itself.
    await inbox.dispose();
    return;
  }

  // From here on, print what changes.
  let shown = new Map(inbox.notifications.map((n) => [n.id, n]));
  inbox.notificationsStream.listen((list) => {
    const next = new Map(list.map((n) => [n.id, n]));
    for (const n of [...list].reverse()) {
      const before = shown.get(n.id);
      if (!before) console.log(`new: ${line(n)}`);
      else if (!before.opened && n.opened) console.log(`opened: ${line(n)}`);
    }
    for (const [id, n] of shown) if (!next.has(id)) console.log(`removed: ${line(n)}`);
    shown = next;
  });
  process.once('SIGINT', () => {
    console.log('bye');
    void inbox.dispose();
  });
}

await main();
