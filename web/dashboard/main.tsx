// The Herald dashboard: sign in with an app id and secret (that app) or the admin token (every app).
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { AdminApi, ApiError, basicAuth, paths, type ConsoleLine, type Session, type StreamState } from './api.js';
import { ChannelsPage } from './channels.js';
import { ConsolePage, type ConsoleFeed } from './console.js';
import { InboxPage } from './inbox.js';
import { OverviewPage } from './overview.js';
import { SendEventPage } from './send-event.js';
import './style.css';

const STORAGE_KEY = 'herald.dashboard.auth';
const KEEP_LINES = 500;

const PAGES = [
  ['overview', 'Overview'],
  ['channels', 'Channels'],
  ['console', 'Console'],
  ['send', 'Send event'],
  ['inbox', 'Inbox'],
] as const;
type PageId = (typeof PAGES)[number][0];

function pageFromHash(): PageId {
  const id = location.hash.replace(/^#\/?/, '');
  return (PAGES.find(([page]) => page === id)?.[0] ?? 'overview') as PageId;
}

interface SignedIn {
  readonly api: AdminApi;
  readonly session: Session;
}

function SignIn({ onSignedIn }: { onSignedIn: (signedIn: SignedIn, remember: string) => void }) {
  const [mode, setMode] = useState<'app' | 'admin'>('app');
  const [appId, setAppId] = useState('');
  const [secret, setSecret] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const authorization = mode === 'app' ? basicAuth(appId.trim(), secret) : `Bearer ${token.trim()}`;
    const api = new AdminApi(authorization);
    setBusy(true);
    try {
      const session = await api.get<Session>(paths.session);
      if (session.apps.length === 0) throw new Error('These credentials reach no app.');
      onSignedIn({ api, session }, authorization);
    } catch (caught) {
      setError(caught instanceof ApiError && caught.status === 401 ? `Not signed in: ${caught.message}` : (caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <form class="card form" onSubmit={(e) => void submit(e)} data-testid="signin">
        <h1>
          <span class="logo" aria-hidden="true">◆</span> Herald dashboard
        </h1>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'app'} class={mode === 'app' ? 'active' : ''} onClick={() => setMode('app')}>
            App id and secret
          </button>
          <button type="button" role="tab" aria-selected={mode === 'admin'} class={mode === 'admin' ? 'active' : ''} onClick={() => setMode('admin')}>
            Admin token
          </button>
        </div>
        {mode === 'app' ? (
          <>
            <label>
              App id
              <input name="app_id" autoComplete="username" value={appId} onInput={(e) => setAppId(e.currentTarget.value)} required />
            </label>
            <label>
              Secret
              <input name="secret" type="password" autoComplete="current-password" value={secret} onInput={(e) => setSecret(e.currentTarget.value)} required />
            </label>
          </>
        ) : (
          <label>
            Admin token <span class="muted">(HERALD_ADMIN_TOKEN)</span>
            <input name="token" type="password" autoComplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
          </label>
        )}
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
        {error && (
          <p class="error" data-testid="signin-error">
            {error}
          </p>
        )}
        <p class="muted small">Credentials stay in this tab (session storage) and go only to this Herald server.</p>
      </form>
    </main>
  );
}

/** The app's console, read for as long as the app is selected, so no page misses anything. */
function useConsoleFeed(api: AdminApi, appId: string): ConsoleFeed {
  const [lines, setLines] = useState<readonly ConsoleLine[]>([]);
  const [received, setReceived] = useState(0);
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<string | null>(null);
  const pending = useRef<ConsoleLine[]>([]);

  useEffect(() => {
    setLines([]);
    setReceived(0);
    pending.current = [];
    // Lines are shown in batches (four a second) so a busy app does not re-render per event.
    const flush = setInterval(() => {
      if (pending.current.length === 0) return;
      const batch = pending.current.reverse();
      pending.current = [];
      setLines((current) => [...batch, ...current].slice(0, KEEP_LINES));
      setReceived((count) => count + batch.length);
    }, 250);
    const stop = api.stream(
      appId,
      (line) => {
        pending.current.push(line);
        if (pending.current.length > KEEP_LINES) pending.current.shift();
      },
      (next, reason) => {
        setState(next);
        setError(reason ?? null);
      },
    );
    return () => {
      stop();
      clearInterval(flush);
    };
  }, [api, appId]);

  return { lines, received, state, error, clear: () => setLines([]) };
}

function Dashboard({ signedIn, onSignOut }: { signedIn: SignedIn; onSignOut: () => void }) {
  const { api, session } = signedIn;
  const [page, setPage] = useState<PageId>(pageFromHash());
  const [appId, setAppId] = useState(() => {
    const saved = sessionStorage.getItem(`${STORAGE_KEY}.app`);
    return session.apps.find((app) => app.id === saved)?.id ?? session.apps[0].id;
  });
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => sessionStorage.setItem(`${STORAGE_KEY}.app`, appId), [appId]);
  const feed = useConsoleFeed(api, appId);

  return (
    <>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">◆</span> Herald
        </div>
        {session.apps.length > 1 ? (
          <select value={appId} onChange={(e) => setAppId(e.currentTarget.value)} aria-label="App" data-testid="app-select">
            {session.apps.map((app) => (
              <option key={app.id} value={app.id}>
                {app.name === app.id ? app.id : `${app.name} (${app.id})`}
                {app.enabled ? '' : ' – disabled'}
              </option>
            ))}
          </select>
        ) : (
          <span class="app-name" data-testid="app-name">
            {session.apps[0].id}
          </span>
        )}
        <span class="muted small scope">{session.scope === 'admin' ? 'admin' : 'app'}</span>
        <button type="button" class="secondary signout" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="tabs pages">
        {PAGES.map(([id, label]) => (
          <a key={id} href={`#${id}`} class={page === id ? 'active' : ''} aria-current={page === id ? 'page' : undefined}>
            {label}
            {id === 'console' && feed.state === 'live' && <span class="dot" aria-label="live" />}
          </a>
        ))}
      </nav>
      <main class="content">
        {page === 'overview' && <OverviewPage api={api} appId={appId} />}
        {page === 'channels' && <ChannelsPage api={api} appId={appId} />}
        {page === 'console' && <ConsolePage feed={feed} />}
        {page === 'send' && <SendEventPage api={api} appId={appId} />}
        {page === 'inbox' && <InboxPage api={api} appId={appId} />}
      </main>
    </>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [restoring, setRestoring] = useState(() => sessionStorage.getItem(STORAGE_KEY) !== null);
  const saved = useMemo(() => sessionStorage.getItem(STORAGE_KEY), []);

  useEffect(() => {
    if (!saved) return;
    const api = new AdminApi(saved);
    api
      .get<Session>(paths.session)
      .then((session) => setSignedIn({ api, session }))
      .catch(() => sessionStorage.removeItem(STORAGE_KEY))
      .finally(() => setRestoring(false));
  }, [saved]);

  if (restoring) return <p class="muted center">Signing in…</p>;
  if (!signedIn) {
    return (
      <SignIn
        onSignedIn={(value, authorization) => {
          sessionStorage.setItem(STORAGE_KEY, authorization);
          setSignedIn(value);
        }}
      />
    );
  }
  return (
    <Dashboard
      signedIn={signedIn}
      onSignOut={() => {
        sessionStorage.removeItem(STORAGE_KEY);
        setSignedIn(null);
      }}
    />
  );
}

render(<App />, document.getElementById('app')!);
