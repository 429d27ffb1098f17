import { useState } from 'preact/hooks';
import { paths, type AdminApi, type ChannelRow, type Member } from './api.js';
import { useDebounced, usePoll } from './hooks.js';

function Members({ api, appId, channel }: { api: AdminApi; appId: string; channel: string }) {
  const { data, error } = usePoll(
    (signal) => api.get<{ members: Member[] }>(`${paths.app(appId)}/channels/${encodeURIComponent(channel)}/members`, signal),
    3_000,
    [api, appId, channel],
  );
  return (
    <div class="card members" data-testid="members">
      <h3>Members of {channel}</h3>
      {error && <p class="error">{error}</p>}
      {data && data.members.length === 0 && <p class="muted">No members.</p>}
      <ul>
        {data?.members.map((member) => (
          <li key={member.id}>
            <strong>{member.id}</strong> {member.info !== null && <code>{JSON.stringify(member.info)}</code>}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ChannelsPage({ api, appId }: { api: AdminApi; appId: string }) {
  const [prefix, setPrefix] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const query = useDebounced(prefix, 250);
  const { data, error } = usePoll(
    (signal) => api.get<{ channels: ChannelRow[]; total: number }>(`${paths.app(appId)}/channels?prefix=${encodeURIComponent(query)}`, signal),
    3_000,
    [api, appId, query],
  );
  return (
    <section>
      <div class="toolbar">
        <input type="search" placeholder="Channel prefix, e.g. presence-" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} aria-label="Channel prefix" />
        {data && <span class="muted">{data.total === data.channels.length ? `${data.total} channels` : `${data.channels.length} of ${data.total} channels`}</span>}
      </div>
      {error && <p class="error">{error}</p>}
      <div class="table-wrap">
        <table data-testid="channels">
          <thead>
            <tr>
              <th>Channel</th>
              <th>Type</th>
              <th class="num">Subscriptions</th>
              <th class="num">Users</th>
            </tr>
          </thead>
          <tbody>
            {data?.channels.map((channel) => (
              <tr key={channel.name} class={selected === channel.name ? 'selected' : ''}>
                <td>
                  {channel.type === 'presence' ? (
                    <button type="button" class="link" onClick={() => setSelected(selected === channel.name ? null : channel.name)}>
                      {channel.name}
                    </button>
                  ) : (
                    channel.name
                  )}
                </td>
                <td>
                  <span class={`tag tag-${channel.type}`}>{channel.type}</span>
                  {channel.cache && <span class="tag">cache</span>}
                </td>
                <td class="num">{channel.subscription_count}</td>
                <td class="num">{channel.user_count ?? '–'}</td>
              </tr>
            ))}
            {data && data.channels.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  No occupied channels{query ? ` starting with "${query}"` : ''}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {selected && <Members api={api} appId={appId} channel={selected} />}
    </section>
  );
}
