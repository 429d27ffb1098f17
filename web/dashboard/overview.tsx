import { useRef } from 'preact/hooks';
import { paths, type AdminApi, type Overview } from './api.js';
import { usePoll } from './hooks.js';
import { Sparkline } from './sparkline.js';

const HISTORY = 60;

function Stat({ id, label, value, series, hint }: { id: string; label: string; value: number | string; series?: readonly number[]; hint?: string }) {
  return (
    <div class="card stat" data-testid={`stat-${id}`}>
      <div class="stat-label">{label}</div>
      <div class="stat-value value">{value}</div>
      {series && <Sparkline values={series} label={label} />}
      {hint && <div class="hint">{hint}</div>}
    </div>
  );
}

export function OverviewPage({ api, appId }: { api: AdminApi; appId: string }) {
  // The channel count has no server-side history: the page keeps what it saw.
  const channelHistory = useRef<{ appId: string; values: number[] }>({ appId, values: [] });
  const { data, error } = usePoll(
    async (signal) => {
      const overview = await api.get<Overview>(`${paths.app(appId)}/overview`, signal);
      const history = channelHistory.current;
      if (history.appId !== appId) channelHistory.current = { appId, values: [] };
      const values = channelHistory.current.values;
      values.push(overview.channels);
      if (values.length > HISTORY) values.shift();
      return overview;
    },
    1_000,
    [api, appId],
  );
  if (!data) return <p class={error ? 'error' : 'muted'}>{error ?? 'Loading…'}</p>;
  const totals = data.totals;
  return (
    <section>
      {error && <p class="error">{error}</p>}
      <div class="grid">
        <Stat id="connections" label="Connections" value={data.connections} series={data.series.connections} hint="on this node" />
        <Stat id="channels" label="Occupied channels" value={data.channels} series={channelHistory.current.values} hint={`${data.presence_channels} presence`} />
        <Stat id="events" label="Events / s" value={data.events_per_second} series={data.series.events} hint="published + client events" />
      </div>
      <div class="grid">
        <Stat id="opened" label="Connections opened" value={totals.connections_opened} hint="since start" />
        <Stat id="published" label="Events published" value={totals.events_published} hint="HTTP API and inbox" />
        <Stat id="client-events" label="Client events" value={totals.client_events} />
      </div>
      {data.node && (
        <div class="grid">
          <Stat id="node-connections" label="Node connections" value={data.node.connections} hint="all apps" />
          <Stat id="node-in" label="Messages in / s" value={data.node.messages_in_per_second} hint="all apps" />
          <Stat id="node-out" label="Messages out / s" value={data.node.messages_out_per_second} hint="all apps" />
        </div>
      )}
    </section>
  );
}
