import { useState } from 'preact/hooks';
import type { ConsoleLine, StreamState } from './api.js';

/** The console's filter groups, by line type. */
const GROUPS: Record<string, readonly string[]> = {
  events: ['event_published'],
  client: ['client_event'],
  connections: ['connection_opened', 'connection_closed', 'connection_refused'],
  subscriptions: ['channel_occupied', 'channel_vacated', 'subscription_count', 'cache_miss'],
  members: ['member_added', 'member_removed'],
};

const LABELS: Record<string, string> = {
  event_published: 'event',
  client_event: 'client event',
  connection_opened: 'connected',
  connection_closed: 'disconnected',
  connection_refused: 'refused',
  channel_occupied: 'occupied',
  channel_vacated: 'vacated',
  subscription_count: 'subscriptions',
  cache_miss: 'cache miss',
  member_added: 'member added',
  member_removed: 'member removed',
  dropped: 'dropped',
};

function matches(line: ConsoleLine, group: string, text: string): boolean {
  if (group !== 'all' && !(GROUPS[group] ?? []).includes(line.type)) return false;
  if (!text) return true;
  const needle = text.toLowerCase();
  return [line.type, line.channel, line.event, line.data, line.socket_id, line.user_id].some((field) => typeof field === 'string' && field.toLowerCase().includes(needle));
}

function details(line: ConsoleLine): string {
  switch (line.type) {
    case 'connection_opened':
    case 'connection_closed':
      return line.socket_id ?? '';
    case 'connection_refused':
      return `code ${line.code ?? '?'}`;
    case 'subscription_count':
      return `${line.count ?? 0} subscription(s)`;
    case 'member_added':
    case 'member_removed':
      return line.user_id ?? '';
    case 'client_event':
      return `from ${line.user_id ?? line.socket_id ?? '?'}`;
    case 'dropped':
      return `${line.count ?? 0} line(s) dropped: the dashboard read too slowly`;
    default:
      return '';
  }
}

export interface ConsoleFeed {
  /** Newest first, at most the last 500. */
  readonly lines: readonly ConsoleLine[];
  /** Lines received since the console started (including those no longer kept). */
  readonly received: number;
  readonly state: StreamState;
  readonly error: string | null;
  readonly clear: () => void;
}

export function ConsolePage({ feed }: { feed: ConsoleFeed }) {
  const [group, setGroup] = useState('all');
  const [text, setText] = useState('');
  const [paused, setPaused] = useState<{ lines: readonly ConsoleLine[]; received: number } | null>(null);
  const shown = (paused?.lines ?? feed.lines).filter((line) => matches(line, group, text));
  const waiting = paused ? feed.received - paused.received : 0;
  return (
    <section>
      <div class="toolbar">
        <select value={group} onChange={(e) => setGroup(e.currentTarget.value)} aria-label="Show">
          <option value="all">Everything</option>
          <option value="events">Events (API, inbox)</option>
          <option value="client">Client events</option>
          <option value="connections">Connections</option>
          <option value="subscriptions">Subscriptions</option>
          <option value="members">Presence members</option>
        </select>
        <input type="search" placeholder="Filter: channel, event, data…" value={text} onInput={(e) => setText(e.currentTarget.value)} aria-label="Filter" />
        <button type="button" data-testid="pause" onClick={() => setPaused(paused ? null : { lines: feed.lines, received: feed.received })}>
          {paused ? `Resume${waiting > 0 ? ` (${waiting} new)` : ''}` : 'Pause'}
        </button>
        <button type="button" class="secondary" onClick={() => { feed.clear(); setPaused(null); }}>
          Clear
        </button>
        <span class={`pill pill-${feed.state}`} data-testid="stream-state" title={feed.error ?? ''}>
          {feed.state === 'live' ? 'live' : feed.state === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
      </div>
      <ol class="console" data-testid="console">
        {shown.map((line, index) => (
          <li key={`${line.time}-${index}-${line.type}`} class={`line line-${line.type}`} data-type={line.type}>
            <time>{new Date(line.time).toLocaleTimeString()}</time>
            <span class="kind">{LABELS[line.type] ?? line.type}</span>
            {line.channel && <span class="channel">{line.channel}</span>}
            {line.event && <span class="event">{line.event}</span>}
            <span class="details">{details(line)}</span>
            {line.data !== undefined && (
              <code class="data">
                {line.data}
                {line.truncated ? '…' : ''}
              </code>
            )}
          </li>
        ))}
        {shown.length === 0 && <li class="muted empty">{feed.lines.length === 0 ? 'Waiting for events…' : 'Nothing matches the filter.'}</li>}
      </ol>
    </section>
  );
}
