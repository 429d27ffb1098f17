import { useEffect, useState } from 'preact/hooks';
import { paths, type AdminApi, type NotificationRow } from './api.js';
import { usePoll } from './hooks.js';
import { relativeTime } from '../../src/inbox-ui/relative-time.js';

const PAGE = 20;

interface Counts {
  readonly unread: number;
  readonly total: number;
}

function UserInbox({ api, appId, userId }: { api: AdminApi; appId: string; userId: string }) {
  const base = `${paths.app(appId)}/users/${encodeURIComponent(userId)}/notifications`;
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [pages, setPages] = useState<{ rows: NotificationRow[]; hasMore: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [heading, setHeading] = useState('Test notification');
  const [content, setContent] = useState('Sent from the Herald dashboard');
  const [pushed, setPushed] = useState<string | null>(null);
  const counts = usePoll((signal) => api.get<Counts>(`${base}/count`, signal), 2_000, [api, base]);

  const loadFirst = async (): Promise<void> => {
    try {
      const page = await api.get<{ notifications: NotificationRow[]; has_more: boolean }>(`${base}?limit=${PAGE}${unreadOnly ? '&status=unread' : ''}`);
      setPages({ rows: page.notifications, hasMore: page.has_more });
      setError(null);
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  useEffect(() => {
    setPages(null);
    void loadFirst();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, unreadOnly]);

  const loadOlder = async (): Promise<void> => {
    if (!pages || pages.rows.length === 0) return;
    const oldest = pages.rows[pages.rows.length - 1].seq;
    try {
      const page = await api.get<{ notifications: NotificationRow[]; has_more: boolean }>(`${base}?limit=${PAGE}&before_seq=${oldest}${unreadOnly ? '&status=unread' : ''}`);
      setPages({ rows: [...pages.rows, ...page.notifications], hasMore: page.has_more });
    } catch (caught) {
      setError((caught as Error).message);
    }
  };

  const push = async (event: Event): Promise<void> => {
    event.preventDefault();
    try {
      const answer = await api.post<{ notifications: { id: string; seq: number | null }[] }>(`${paths.app(appId)}/notifications`, {
        user_ids: [userId],
        notification: { heading: heading || null, content },
      });
      setPushed(`Pushed ${answer.notifications[0]?.id ?? ''}.`);
      counts.reload();
      await loadFirst();
    } catch (caught) {
      setPushed(null);
      setError((caught as Error).message);
    }
  };

  return (
    <div>
      <div class="grid">
        <div class="card stat" data-testid="inbox-unread">
          <div class="stat-label">Unread</div>
          <div class="stat-value value">{counts.data?.unread ?? '…'}</div>
        </div>
        <div class="card stat" data-testid="inbox-total">
          <div class="stat-label">Total</div>
          <div class="stat-value value">{counts.data?.total ?? '…'}</div>
        </div>
      </div>
      {(error ?? counts.error) && <p class="error">{error ?? counts.error}</p>}
      <form class="card form" onSubmit={(e) => void push(e)} data-testid="inbox-push">
        <h3>Push a test notification to {userId}</h3>
        <label>
          Heading
          <input value={heading} onInput={(e) => setHeading(e.currentTarget.value)} />
        </label>
        <label>
          Content
          <input value={content} onInput={(e) => setContent(e.currentTarget.value)} required />
        </label>
        <div class="actions">
          <button type="submit">Push</button>
          {pushed && <span class="ok">{pushed}</span>}
        </div>
      </form>
      <div class="toolbar">
        <label class="check">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.currentTarget.checked)} /> Unread only
        </label>
        <button type="button" class="secondary" onClick={() => void loadFirst()}>
          Refresh
        </button>
      </div>
      <ul class="notifications" data-testid="inbox-list">
        {pages?.rows.map((n) => (
          <li key={n.id} class={n.opened ? 'opened' : 'unread'}>
            <div class="n-meta">
              <span class="muted">#{n.seq}</span> <time class="muted" dateTime={n.created_at} title={new Date(n.created_at).toLocaleString()}>
                {relativeTime(n.created_at, Date.now(), navigator.language)}
              </time>
              {n.sender_id && <span class="muted"> from {n.sender_id}</span>}
              <span class={`tag ${n.opened ? '' : 'tag-unread'}`}>{n.opened ? 'opened' : 'unread'}</span>
            </div>
            {n.heading && <strong>{n.heading}</strong>}
            <div>{n.content}</div>
            <code class="muted small">{n.id}</code>
          </li>
        ))}
        {pages && pages.rows.length === 0 && <li class="muted">No notifications.</li>}
      </ul>
      {pages?.hasMore && (
        <button type="button" class="secondary" onClick={() => void loadOlder()}>
          Older
        </button>
      )}
    </div>
  );
}

export function InboxPage({ api, appId }: { api: AdminApi; appId: string }) {
  const [input, setInput] = useState('');
  const [userId, setUserId] = useState<string | null>(null);
  return (
    <section>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setUserId(input.trim() || null);
        }}
      >
        <input placeholder="User id" value={input} onInput={(e) => setInput(e.currentTarget.value)} aria-label="User id" />
        <button type="submit">Look up</button>
      </form>
      {userId ? <UserInbox key={`${appId}/${userId}`} api={api} appId={appId} userId={userId} /> : <p class="muted">Look up a user to page through their notifications and push a test one.</p>}
    </section>
  );
}
