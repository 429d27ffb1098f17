// The browser inbox example: loads the client SDK from Herald itself (/sdk/herald-client.js),
// shows the notifications and the unread badge live, and opens them on click.
const form = document.getElementById('connect');
const statusLine = document.getElementById('status');
const badge = document.getElementById('badge');
const list = document.getElementById('list');
const openAll = document.getElementById('open-all');

// Pre-fill the form from the query string; connect at once when it has a user and a token.
const params = new URLSearchParams(location.search);
for (const field of ['herald', 'appId', 'appKey', 'user', 'token']) {
  const value = params.get(field);
  if (value !== null) form.elements[field].value = value;
}

function showStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.className = isError ? 'error' : '';
}

function render(notifications, inbox) {
  list.replaceChildren(
    ...notifications.map((n) => {
      const item = document.createElement('li');
      item.className = n.opened ? 'opened' : 'unread';
      item.dataset.id = n.id;
      const content = document.createElement('span');
      content.className = 'content';
      if (n.heading) {
        const heading = document.createElement('span');
        heading.className = 'heading';
        heading.textContent = n.heading;
        content.append(heading);
      }
      content.append(n.content);
      item.append(content);
      if (!n.opened) {
        const open = document.createElement('button');
        open.type = 'button';
        open.textContent = 'Mark read';
        open.addEventListener('click', () => inbox.markOpened([n.id]).catch(() => undefined));
        item.append(open);
      }
      return item;
    }),
  );
}

let inbox = null;

async function connect() {
  const fields = Object.fromEntries(new FormData(form));
  const herald = new URL(fields.herald);
  await inbox?.dispose();
  showStatus('Connecting…');
  const { InboxClient } = await import(`${herald.origin}/sdk/herald-client.js`);
  inbox = new InboxClient({
    host: herald.hostname,
    port: Number(herald.port || (herald.protocol === 'https:' ? 443 : 80)),
    useTLS: herald.protocol === 'https:',
    appId: fields.appId,
    appKey: fields.appKey,
    userId: fields.user,
    // A real app: token: () => fetch('/api/herald-token').then((r) => r.text())
    token: fields.token,
  });
  const current = inbox;
  current.notificationsStream.listen((notifications) => render(notifications, current));
  current.pendingNotificationsCountStream.listen((count) => {
    badge.textContent = String(count);
    badge.dataset.count = String(count);
    openAll.disabled = count === 0;
  });
  current.errors.listen((error) => showStatus(`${error.name}: ${error.message}`, true));
  try {
    await current.init();
    showStatus(`In sync as ${fields.user}.`);
  } catch (error) {
    showStatus(`Could not connect: ${error.name}: ${error.message}`, true);
  }
}

openAll.addEventListener('click', () => inbox?.markAllOpened().catch(() => undefined));
form.addEventListener('submit', (event) => {
  event.preventDefault();
  void connect();
});
if (params.get('user') && params.get('token')) void connect();
