/**
 * An app's pages for the `<herald-inbox>` browser tests, served on a loopback origin of their own:
 * a plain HTML page loading /sdk/herald-inbox.js from Herald, a React page (bundled here with
 * esbuild), the app backend's token route the element's `token-url` points at, and avatars.
 */
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { App } from '../../src/config/apps.js';
import { tokenFor } from '../helpers/inbox.js';

const REACT_PAGE = fileURLToPath(new URL('../../../test/inbox-ui/in-page/react-page.ts', import.meta.url));
const V2_PAGE = fileURLToPath(new URL('../../../test/inbox-ui/in-page/v2-page.ts', import.meta.url));

/** Options of the plain page, from its query string. */
export interface PlainPage {
  readonly user: string;
  readonly locale?: string;
  readonly theme?: 'light' | 'dark';
  readonly layout?: 'inline';
  readonly badge?: 'unseen';
  /** The port the element connects to (default Herald's: a test puts a proxy in between). */
  readonly port?: number;
  /** A token route that answers 500. */
  readonly brokenToken?: boolean;
}

/** The served pages. */
export interface AppPages {
  readonly origin: string;
  plain(page: PlainPage): string;
  react(user: string): string;
  /** The element on the in-page stand-in of the inbox v2 client. */
  v2(badge?: 'unseen'): string;
  close(): Promise<void>;
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

const COLORS = ['#6366f1', '#0ea5e9', '#10b981', '#f59e0b', '#ec4899', '#8b5cf6'];

function avatar(name: string): string {
  const color = COLORS[name.charCodeAt(0) % COLORS.length];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 80 80"><rect width="80" height="80" rx="18" fill="${color}"/><text x="40" y="52" font-family="system-ui,sans-serif" font-size="34" font-weight="700" fill="#fff" text-anchor="middle">${escape(name.slice(0, 2).toUpperCase())}</text></svg>`;
}

function plainHtml(herald: { baseUrl: string; port: number; app: App }, query: URLSearchParams): string {
  const user = query.get('user') ?? 'anon';
  const locale = query.get('locale') ?? 'en';
  const dir = locale === 'ar' ? 'rtl' : 'ltr';
  const attributes: Record<string, string | null> = {
    'app-id': herald.app.id,
    'app-key': herald.app.key,
    'user-id': user,
    host: '127.0.0.1',
    port: query.get('port') ?? String(herald.port),
    'token-url': query.get('broken') ? '/broken-token' : `/token?user=${encodeURIComponent(user)}`,
    locale,
    theme: query.get('theme'),
    layout: query.get('layout'),
    badge: query.get('badge'),
  };
  const attributeText = Object.entries(attributes)
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}="${escape(value!)}"`)
    .join(' ');
  return `<!doctype html>
<html lang="${escape(locale)}" dir="${dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme</title>
<style>
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; background: #f4f5f8; color: #111827; }
  header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #fff; border-bottom: 1px solid #e5e7eb; }
  header strong { flex: 1; font-size: 17px; }
  main { padding: 28px 20px; max-width: 620px; }
  .card { background: #fff; border: 1px solid #e5e7eb; border-radius: 12px; padding: 18px; margin-bottom: 14px; }
  .bar { height: 10px; border-radius: 6px; background: #e5e7eb; margin: 10px 0; }
  @media (prefers-color-scheme: dark) {
    body { background: #0f1117; color: #e8eaef; }
    header, .card { background: #181b22; border-color: #2c313c; }
    .bar { background: #2c313c; }
  }
</style>
<script type="module" src="${herald.baseUrl}/sdk/herald-inbox.js"></script>
</head>
<body>
<header><strong>Acme Projects</strong><herald-inbox ${attributeText}></herald-inbox></header>
<main>
  <h1>Dashboard</h1>
  <div class="card"><div class="bar" style="width: 60%"></div><div class="bar" style="width: 85%"></div><div class="bar" style="width: 40%"></div></div>
  <div class="card"><div class="bar" style="width: 75%"></div><div class="bar" style="width: 50%"></div></div>
</main>
<script>
  window.heraldEvents = [];
  for (const type of ['herald-open', 'herald-action', 'herald-ready', 'herald-error']) {
    document.addEventListener(type, (event) => window.heraldEvents.push({ type, id: event.detail.notification?.id ?? null, buttonId: event.detail.buttonId ?? null }));
  }
</script>
</body>
</html>`;
}

function reactHtml(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme (React)</title></head>
<body style="margin:0;font-family:system-ui,sans-serif"><div id="root"></div><script type="module" src="/react.js"></script></body></html>`;
}

function v2Html(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme (inbox v2)</title></head>
<body style="margin:0;font-family:system-ui,sans-serif"><header style="display:flex;justify-content:flex-end;padding:12px"></header><script type="module" src="/v2.js"></script></body></html>`;
}

/** Starts the app's page server for one Herald node. */
export async function serveAppPages(herald: { baseUrl: string; port: number; app: App }): Promise<AppPages> {
  const bundle = async (entry: string) =>
    (await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2020', write: false, logLevel: 'warning', define: { 'process.env.NODE_ENV': '"production"' } })).outputFiles[0].text;
  const [reactJs, v2Js] = await Promise.all([bundle(REACT_PAGE), bundle(V2_PAGE)]);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    if (url.pathname === '/plain') send(200, 'text/html; charset=utf-8', plainHtml(herald, url.searchParams));
    else if (url.pathname === '/react') send(200, 'text/html; charset=utf-8', reactHtml());
    else if (url.pathname === '/react.js') send(200, 'text/javascript; charset=utf-8', reactJs);
    else if (url.pathname === '/v2') send(200, 'text/html; charset=utf-8', v2Html());
    else if (url.pathname === '/v2.js') send(200, 'text/javascript; charset=utf-8', v2Js);
    else if (url.pathname === '/token') {
      tokenFor(herald.app, url.searchParams.get('user') ?? '').then(
        (token) => send(200, 'application/json', JSON.stringify({ token })),
        (error: Error) => send(500, 'application/json', JSON.stringify({ error: error.message })),
      );
    } else if (url.pathname === '/broken-token') send(500, 'application/json', '{"error":"the app backend is down"}');
    else if (url.pathname.startsWith('/avatar/')) send(200, 'image/svg+xml', avatar(decodeURIComponent(url.pathname.slice(8)).replace(/\.svg$/, '')));
    else send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    plain: (page) => {
      const query = new URLSearchParams({ user: page.user });
      if (page.locale) query.set('locale', page.locale);
      if (page.theme) query.set('theme', page.theme);
      if (page.layout) query.set('layout', page.layout);
      if (page.badge) query.set('badge', page.badge);
      if (page.port) query.set('port', String(page.port));
      if (page.brokenToken) query.set('broken', '1');
      return `${origin}/plain?${query}`;
    },
    react: (user) => `${origin}/react?${new URLSearchParams({ user, port: String(herald.port), appId: herald.app.id, appKey: herald.app.key })}`,
    v2: (badge) => `${origin}/v2${badge ? `?badge=${badge}` : ''}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
