// The demo inbox: a page built on Herald's client SDK (/sdk/herald-client.js), signed in as a demo user.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { InboxClient, Notification } from '../../src/client/index.js';
import './style.css';

type Sdk = typeof import('../../src/client/index.js');

/** What POST /demo/token answers. */
interface DemoToken {
  readonly token: string;
  readonly user_id: string;
  readonly app_id: string;
  readonly app_key: string;
  readonly channel: string;
  readonly event: string;
  readonly expires_in: number;
}

const NAME = /^[A-Za-z0-9_-]{1,40}$/;
const STORAGE_KEY = 'herald.demo.user';

function initialName(): string {
  const fromQuery = new URLSearchParams(location.search).get('user');
  if (fromQuery && NAME.test(fromQuery)) return fromQuery;
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && NAME.test(saved)) return saved;
  return `guest-${Math.random().toString(36).slice(2, 6)}`;
}

async function postJson<T>(path: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const json = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new Error(json.error ?? `HTTP ${response.status}`);
  return json as T;
}

let sdk: Promise<Sdk> | null = null;
function loadSdk(): Promise<Sdk> {
  // Loaded at run time from Herald itself, as any page would: the SDK is not bundled into the demo.
  const url = '/sdk/herald-client.js';
  sdk ??= import(/* webpackIgnore: true */ url) as Promise<Sdk>;
  return sdk;
}

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

function Bell({ count, onClick, open }: { count: number; onClick: () => void; open: boolean }) {
  return (
    <button type="button" class="bell" onClick={onClick} aria-expanded={open} aria-label={`Notifications, ${count} unread`} data-testid="bell">
      <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
        <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z" />
      </svg>
      <span class="badge" data-count={count} data-testid="badge">
        {count > 99 ? '99+' : count}
      </span>
    </button>
  );
}

function Item({ n, inbox }: { n: Notification; inbox: InboxClient }) {
  const open = () => {
    if (!n.opened) inbox.markOpened([n.id]).catch(() => undefined);
  };
  return (
    <li class={`item ${n.opened ? 'opened' : 'unread'}`} data-id={n.id} data-testid="notification">
      <div class="item-main" role="button" tabIndex={0} onClick={open} onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && open()}>
        {n.image_url ? <img src={n.image_url} alt="" loading="lazy" width={44} height={44} /> : <span class="avatar" aria-hidden="true">{(n.sender_id ?? 'H').replace(/^demo-/, '').slice(0, 1).toUpperCase()}</span>}
        <div class="text">
          {n.heading && <strong class="heading">{n.heading}</strong>}
          <span class="content">{n.content}</span>
          <span class="meta">
            {ago(n.created_at)}
            {n.sender_id ? ` · from ${n.sender_id.replace(/^demo-/, '')}` : ''}
          </span>
        </div>
        {!n.opened && <span class="unread-dot" aria-label="unread" />}
      </div>
      {n.buttons.length > 0 && (
        <div class="buttons">
          {n.buttons.map((button) => (
            <button
              key={button.id}
              type="button"
              class="secondary"
              onClick={() => {
                inbox.pressButton(n.id, button.id).catch(() => undefined);
                open();
              }}
            >
              {button.text}
            </button>
          ))}
        </div>
      )}
    </li>
  );
}

function PushBox({ name, token, onSent }: { name: string; token: () => string; onSent: (text: string, ok: boolean) => void }) {
  const [to, setTo] = useState(name);
  const [heading, setHeading] = useState('Hello');
  const [content, setContent] = useState('This notification was stored, then delivered live.');
  const [image, setImage] = useState(true);
  const [buttons, setButtons] = useState(true);
  const [busy, setBusy] = useState(false);
  useEffect(() => setTo(name), [name]);

  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    const names = to
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    setBusy(true);
    try {
      await postJson(
        '/demo/push',
        {
          to: names,
          notification: {
            heading: heading.trim() || null,
            content,
            image_url: image ? `${location.origin}/demo/sample.svg` : null,
            buttons: buttons ? [{ id: 'accept', text: 'Accept' }, { id: 'later', text: 'Later' }] : [],
          },
        },
        token(),
      );
      onSent(`Sent to ${names.join(', ')}.`, true);
    } catch (error) {
      onSent((error as Error).message, false);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card push" onSubmit={(e) => void send(e)} data-testid="push-box">
      <h2>Push a notification</h2>
      <label>
        To <span class="muted">(demo user names, comma-separated)</span>
        <input name="to" value={to} onInput={(e) => setTo(e.currentTarget.value)} required />
      </label>
      <label>
        Heading
        <input name="heading" value={heading} onInput={(e) => setHeading(e.currentTarget.value)} />
      </label>
      <label>
        Content
        <textarea name="content" rows={2} value={content} onInput={(e) => setContent(e.currentTarget.value)} required />
      </label>
      <div class="row">
        <label class="check">
          <input type="checkbox" checked={image} onChange={(e) => setImage(e.currentTarget.checked)} /> image
        </label>
        <label class="check">
          <input type="checkbox" checked={buttons} onChange={(e) => setButtons(e.currentTarget.checked)} /> buttons
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Sending…' : 'Send'}
        </button>
      </div>
    </form>
  );
}

function App() {
  const [name, setName] = useState(initialName);
  const [nameInput, setNameInput] = useState(name);
  const [session, setSession] = useState<{ info: DemoToken; inbox: InboxClient } | null>(null);
  const [list, setList] = useState<readonly Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [status, setStatus] = useState<{ text: string; error: boolean }>({ text: 'Connecting…', error: false });
  const [panelOpen, setPanelOpen] = useState(true);
  const [hasMore, setHasMore] = useState(false);
  const [toast, setToast] = useState<{ text: string; ok: boolean } | null>(null);
  const token = useRef<string>('');

  useEffect(() => {
    localStorage.setItem(STORAGE_KEY, name);
    const url = new URL(location.href);
    url.searchParams.set('user', name);
    history.replaceState(null, '', url);
    let cancelled = false;
    let inbox: InboxClient | null = null;
    setList([]);
    setUnread(0);
    setSession(null);
    setStatus({ text: `Connecting as ${name}…`, error: false });
    (async () => {
      const info = await postJson<DemoToken>('/demo/token', { user_id: name });
      token.current = info.token;
      const { InboxClient } = await loadSdk();
      if (cancelled) return;
      let first = true;
      inbox = new InboxClient({
        host: location.hostname,
        port: Number(location.port || (location.protocol === 'https:' ? 443 : 80)),
        useTLS: location.protocol === 'https:',
        appId: info.app_id,
        appKey: info.app_key,
        userId: info.user_id,
        channelName: info.channel,
        eventName: info.event,
        pageSize: 20,
        // The first token came with the session; later ones are asked for when it expires.
        token: async () => {
          if (first) {
            first = false;
            return info.token;
          }
          const fresh = await postJson<DemoToken>('/demo/token', { user_id: name });
          token.current = fresh.token;
          return fresh.token;
        },
      });
      const current = inbox;
      current.notificationsStream.listen((notifications) => {
        setList(notifications);
        setHasMore(current.hasMore);
      });
      current.pendingNotificationsCountStream.listen((count) => setUnread(count));
      current.errors.listen((error) => setStatus({ text: `${error.name}: ${error.message}`, error: true }));
      setSession({ info, inbox: current });
      await current.init();
      if (!cancelled) setStatus({ text: `Live as ${name}`, error: false });
    })().catch((error: unknown) => {
      if (!cancelled) setStatus({ text: `Could not connect: ${(error as Error).message}`, error: true });
    });
    return () => {
      cancelled = true;
      void inbox?.dispose();
    };
  }, [name]);

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Herald demo` : 'Herald demo';
  }, [unread]);

  const inbox = session?.inbox ?? null;
  return (
    <>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">◆</span> Herald demo
        </div>
        <form
          class="who"
          onSubmit={(e) => {
            e.preventDefault();
            if (NAME.test(nameInput.trim())) setName(nameInput.trim());
          }}
        >
          <input aria-label="Demo user name" value={nameInput} onInput={(e) => setNameInput(e.currentTarget.value)} size={10} pattern="[A-Za-z0-9_\-]{1,40}" />
          <button type="submit" class="secondary">
            Switch
          </button>
        </form>
        <Bell count={unread} open={panelOpen} onClick={() => setPanelOpen(!panelOpen)} />
      </header>
      <main class="layout">
        <p class={`status ${status.error ? 'error' : ''}`} data-testid="status">
          <span class={`live-dot ${status.text.startsWith('Live') ? 'on' : ''}`} aria-hidden="true" />
          {status.text}
        </p>
        {panelOpen && (
          <section class="card panel" aria-label="Notifications">
            <div class="panel-head">
              <h2>Notifications</h2>
              <button type="button" class="secondary" data-testid="mark-all" disabled={!inbox || unread === 0} onClick={() => inbox?.markAllOpened().catch(() => undefined)}>
                Mark all read
              </button>
            </div>
            <ul class="list" data-testid="list">
              {inbox && list.map((n) => <Item key={n.id} n={n} inbox={inbox} />)}
              {list.length === 0 && <li class="empty muted">Nothing yet. Push yourself a notification below.</li>}
            </ul>
            {inbox && hasMore && (
              <button type="button" class="secondary more" onClick={() => inbox.loadMore().catch(() => undefined)}>
                Load older
              </button>
            )}
          </section>
        )}
        {session && (
          <PushBox
            name={name}
            token={() => token.current}
            onSent={(text, ok) => {
              setToast({ text, ok });
              setTimeout(() => setToast(null), 3_000);
            }}
          />
        )}
        {toast && (
          <p class={toast.ok ? 'ok' : 'error'} role="status">
            {toast.text}
          </p>
        )}
        <p class="muted small">
          Open <a href={`/demo?user=${encodeURIComponent(name)}`} target="_blank" rel="noopener">another tab as {name}</a> to watch devices stay in sync, or switch to another name and push
          to <code>{name}</code>. Demo users are the <code>demo-*</code> users of app <code>{session?.info.app_id ?? '…'}</code>.
        </p>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
