/** The v2 test page (bundled by esbuild in browser.test.ts): `<herald-inbox>` given a FakeV2Client. */
import type { InboxClient } from '../../../src/client/index.js';
import '../../../src/inbox-ui/index.js';
import { FakeV2Client } from './fake-v2-client.js';

const client = new FakeV2Client();
client.add({ heading: 'Invoice INV-7 is ready', content: 'Due in 14 days.', category: 'billing' });
client.add({ heading: 'Maya mentioned you', content: 'Can you look at the roadmap?', category: 'comments', opened: true, seen: true });
client.add({ heading: 'Deploy finished', content: 'acme-web 4.2.0 is live.', category: 'deploys' });
(window as unknown as { fake: FakeV2Client }).fake = client;

const query = new URLSearchParams(location.search);
if (query.get('held')) {
  client.holdViews();
  for (let i = 0; i < 25; i++) client.add({ heading: `Older ${i}`, content: 'More of the same.' });
}
const element = document.createElement('herald-inbox');
if (query.get('badge')) element.setAttribute('badge', query.get('badge')!);
document.querySelector('header')!.append(element);
element.client = client as unknown as InboxClient;
