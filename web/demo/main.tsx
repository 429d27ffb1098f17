// The demo inbox: <herald-inbox> (/sdk/herald-inbox.js, the element and the client SDK) for a demo user, and a push box.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { InboxClient } from '../../src/client/index.js';
import './style.css';

type Ui = typeof import('../../src/inbox-ui/index.js');
type HeraldInboxElement = import('../../src/inbox-ui/index.js').HeraldInboxElement;

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

let ui: Promise<Ui> | null = null;
function loadUi(): Promise<Ui> {
  // Loaded at run time from Herald itself, as any page would: one script with the element and the SDK.
  const url = '/sdk/herald-inbox.js';
  ui ??= import(/* webpackIgnore: true */ url) as Promise<Ui>;
  return ui;
}

/** The `<herald-inbox>` of the page, made once and given each session's client. */
function InboxSlot({ inbox, locale }: { inbox: InboxClient | null; locale: string }) {
  const slot = useRef<HTMLDivElement>(null);
  const [element, setElement] = useState<HeraldInboxElement | null>(null);
  useEffect(() => {
    let made: HTMLElement | null = null;
    loadUi().then(() => {
      if (!slot.current) return;
      made = document.createElement('herald-inbox');
      made.setAttribute('layout', 'inline');
      slot.current.append(made);
      setElement(made as HeraldInboxElement);
    });
    return () => made?.remove();
  }, []);
  useEffect(() => {
    if (element) element.client = inbox;
  }, [element, inbox]);
  useEffect(() => element?.setAttribute('locale', locale), [element, locale]);
  return <div class="inbox-slot" ref={slot} />;
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

/** "Notify me when I'm away": Web Push for the demo user through Herald's service worker (docs/push.md). */
function AwayPush({ inbox }: { inbox: InboxClient }) {
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  const [state, setState] = useState<{ text: string; error: boolean } | null>(null);
  const enable = async (): Promise<void> => {
    setState({ text: 'Asking the browser…', error: false });
    try {
      await inbox.enableWebPush({ serviceWorkerUrl: '/sdk/herald-sw.js', scope: '/demo', openUrl: '/demo' });
      setState({ text: 'On: a notification you have not seen within a minute comes as a push.', error: false });
    } catch (error) {
      setState({ text: (error as Error).message, error: true });
    }
  };
  return (
    <section class="card away" data-testid="away-push">
      <h2>While you are away</h2>
      <button type="button" class="secondary" disabled={!supported} onClick={() => void enable()}>
        Notify me when I'm away
      </button>
      <p class={`small ${state?.error ? 'error' : 'muted'}`} role="status">
        {supported ? (state?.text ?? 'Pushes what you have not seen in the app within a minute.') : 'This browser has no Web Push.'}
      </p>
    </section>
  );
}

const LOCALES: readonly [string, string][] = [
  ['en', 'English'],
  ['de', 'Deutsch'],
  ['ar', 'العربية'],
];

function App() {
  const [name, setName] = useState(initialName);
  const [nameInput, setNameInput] = useState(name);
  const [locale, setLocale] = useState(() => new URLSearchParams(location.search).get('locale') ?? 'en');
  const [session, setSession] = useState<{ info: DemoToken; inbox: InboxClient } | null>(null);
  const [status, setStatus] = useState<{ text: string; error: boolean }>({ text: 'Connecting…', error: false });
  const [toast, setToast] = useState<{ text: string; ok: boolean } | null>(null);
  const token = useRef<string>('');

  useEffect(() => {
    localStorage.setItem(STORAGE_KEY, name);
    const url = new URL(location.href);
    url.searchParams.set('user', name);
    history.replaceState(null, '', url);
    let cancelled = false;
    let inbox: InboxClient | null = null;
    setSession(null);
    setStatus({ text: `Connecting as ${name}…`, error: false });
    (async () => {
      const info = await postJson<DemoToken>('/demo/token', { user_id: name });
      token.current = info.token;
      const { InboxClient } = await loadUi();
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
      current.pendingNotificationsCountStream.listen((count) => (document.title = count > 0 ? `(${count}) Herald demo` : 'Herald demo'));
      let synced = false;
      current.connectionStateStream.listen((state) => {
        if (!synced || cancelled) return;
        setStatus(state === 'connected' ? { text: `Live as ${name}`, error: false } : { text: 'Reconnecting…', error: false });
      });
      current.errors.listen((error) => setStatus({ text: `${error.name}: ${error.message}`, error: true }));
      setSession({ info, inbox: current });
      await current.init();
      synced = true;
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
    const url = new URL(location.href);
    url.searchParams.set('locale', locale);
    history.replaceState(null, '', url);
  }, [locale]);

  return (
    <>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">◆</span> Herald demo
        </div>
        <select class="locale" aria-label="Language" value={locale} onChange={(e) => setLocale(e.currentTarget.value)}>
          {LOCALES.map(([tag, label]) => (
            <option key={tag} value={tag}>
              {label}
            </option>
          ))}
        </select>
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
      </header>
      <main class="layout">
        <section class="inbox-column" aria-label="Inbox">
          <p class={`status ${status.error ? 'error' : ''}`} data-testid="status">
            <span class={`live-dot ${status.text.startsWith('Live') ? 'on' : ''}`} aria-hidden="true" />
            {status.text}
          </p>
          <InboxSlot inbox={session?.inbox ?? null} locale={locale} />
        </section>
        <aside class="side" data-testid="side">
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
          {session && <AwayPush inbox={session.inbox} />}
          {toast && (
            <p class={toast.ok ? 'ok' : 'error'} role="status">
              {toast.text}
            </p>
          )}
          <section class="card tips">
            <h2>Try it</h2>
            <ul>
              <li>
                Open <a href={`/demo?user=${encodeURIComponent(name)}`} target="_blank" rel="noopener">another tab as {name}</a>: opening, marking read and new notifications stay in sync.
              </li>
              <li>Switch to another name and push to <code>{name}</code>, or push to several names at once.</li>
              <li>
                The inbox is <code>&lt;herald-inbox&gt;</code> from <code>/sdk/herald-inbox.js</code>: put it in any page with one script tag (see docs/ui.md).
              </li>
            </ul>
            <p class="muted small">
              Demo users are the <code>demo-*</code> users of app <code>{session?.info.app_id ?? '…'}</code>.
            </p>
          </section>
        </aside>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
