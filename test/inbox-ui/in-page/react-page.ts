/**
 * The React test page (bundled by esbuild in browser.test.ts): `<HeraldInbox>` on a client given
 * through `HeraldProvider`, and an app's own list and counts through `useInbox` and `useCounts`.
 */
import { createElement as h, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { InboxClient } from '../../../src/client/index.js';
import { HeraldInbox, HeraldProvider, useCounts, useInbox } from '../../../src/react/index.js';

const query = new URLSearchParams(location.search);
const user = query.get('user') ?? 'react-user';

const client = new InboxClient({
  host: '127.0.0.1',
  port: Number(query.get('port')),
  appId: query.get('appId') ?? '',
  appKey: query.get('appKey') ?? '',
  userId: user,
  pageSize: 20,
  token: async () => ((await (await fetch(`/token?user=${encodeURIComponent(user)}`)).json()) as { token: string }).token,
});

function OwnList() {
  const { notifications, ready } = useInbox({});
  const counts = useCounts({ all: {} });
  return h(
    'section',
    { 'data-testid': 'own', 'data-ready': String(ready) },
    h('p', { 'data-testid': 'own-unread' }, String(counts?.all?.unread ?? '')),
    h('ul', null, ...notifications.map((n) => h('li', { key: n.id, 'data-id': n.id }, n.content))),
  );
}

function App() {
  const [opened, setOpened] = useState<string[]>([]);
  return h(
    HeraldProvider,
    { client },
    h('header', { style: { display: 'flex', justifyContent: 'flex-end', padding: 12 } }, h(HeraldInbox, { locale: 'en', onOpen: (n) => setOpened((list) => [...list, n.id]) })),
    h('p', { 'data-testid': 'opened' }, opened.join(',')),
    h(OwnList),
  );
}

createRoot(document.getElementById('root')!).render(h(App));
