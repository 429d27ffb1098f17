import { useState } from 'preact/hooks';
import { paths, type AdminApi } from './api.js';

export function SendEventPage({ api, appId }: { api: AdminApi; appId: string }) {
  const [channels, setChannels] = useState('my-channel');
  const [name, setName] = useState('my-event');
  const [data, setData] = useState('{\n  "message": "hello from the dashboard"\n}');
  const [socketId, setSocketId] = useState('');
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [sending, setSending] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const list = channels
      .split(',')
      .map((channel) => channel.trim())
      .filter(Boolean);
    if (list.length === 0) {
      setResult({ ok: false, text: 'Name at least one channel.' });
      return;
    }
    setSending(true);
    try {
      const body: Record<string, unknown> = { name, channels: list, data };
      if (socketId.trim()) body.socket_id = socketId.trim();
      await api.post(`${paths.app(appId)}/events`, body);
      setResult({ ok: true, text: `Sent "${name}" to ${list.join(', ')}.` });
    } catch (error) {
      setResult({ ok: false, text: (error as Error).message });
    } finally {
      setSending(false);
    }
  };

  let dataNote = 'Sent as text; JSON is what pusher-js clients parse.';
  try {
    JSON.parse(data);
    dataNote = 'Valid JSON.';
  } catch {
    // Not JSON: still a valid event payload.
  }

  return (
    <form class="card form" onSubmit={(e) => void submit(e)} data-testid="send-event">
      <label>
        Channels <span class="muted">(comma-separated)</span>
        <input name="channels" value={channels} onInput={(e) => setChannels(e.currentTarget.value)} required />
      </label>
      <label>
        Event
        <input name="event" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
      </label>
      <label>
        Data <span class="muted">{dataNote}</span>
        <textarea name="data" rows={6} value={data} onInput={(e) => setData(e.currentTarget.value)} />
      </label>
      <label>
        Exclude socket id <span class="muted">(optional)</span>
        <input name="socket_id" value={socketId} onInput={(e) => setSocketId(e.currentTarget.value)} placeholder="123.456" />
      </label>
      <div class="actions">
        <button type="submit" disabled={sending}>
          {sending ? 'Sending…' : 'Send event'}
        </button>
        {result && (
          <span class={result.ok ? 'ok' : 'error'} data-testid="send-result">
            {result.text}
          </span>
        )}
      </div>
    </form>
  );
}
