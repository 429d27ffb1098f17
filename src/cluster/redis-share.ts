/** A node's share as the register script takes it, and the changes the register and reap scripts report. */
import type { ClusterChange, NodeSnapshot } from './adapter.js';
import { RedisKeys, shareField } from './redis-scripts.js';

/** The snapshot as JSON for `heraldRegister`, with its sizes for logs. */
export function encodeShare(snapshot: NodeSnapshot): { json: string; sizes: { subscriptions: number; presence: number; signIns: number } } {
  const s = snapshot.subscriptions
    .filter((entry) => entry.count > 0)
    .map(({ appId, channel, count }) => {
      const tag = RedisKeys.tag(appId);
      return [shareField.subs(tag, channel), tag, channel, count];
    });
  const p = snapshot.presence.map(({ appId, channel, socketId, member }) => {
    const tag = RedisKeys.tag(appId);
    return [shareField.presence(tag, channel, socketId), tag, channel, member.userId, JSON.stringify(member.userInfo ?? null)];
  });
  const u = snapshot.signIns.map(({ appId, userId, socketId }) => {
    const tag = RedisKeys.tag(appId);
    return [shareField.signin(tag, userId, socketId), tag, userId];
  });
  return { json: JSON.stringify({ s, p, u }), sizes: { subscriptions: s.length, presence: p.length, signIns: u.length } };
}

/** A change as the register and reap scripts report it (app as its key tag). */
export type RawChange =
  | readonly ['count', string, string, number]
  | readonly ['member', string, string, string, number, string]
  | readonly ['user', string, string, number];

/** Decodes the `[state, changes]` JSON the register and reap scripts return. */
export function decodeScriptResult(raw: unknown): { state: string; changes: RawChange[] } {
  const parsed = JSON.parse(String(raw)) as [string, unknown];
  // cjson encodes an empty table as {}, not [].
  const changes = Array.isArray(parsed[1]) ? (parsed[1] as RawChange[]) : [];
  return { state: parsed[0], changes };
}

/** The change for the realtime core. */
export function toClusterChange(change: RawChange): ClusterChange {
  const appId = decodeURIComponent(change[1]);
  switch (change[0]) {
    case 'count':
      return { type: 'count', appId, channel: change[2], count: Number(change[3]) };
    case 'member': {
      const present = Number(change[4]) === 1;
      return { type: 'member', appId, channel: change[2], userId: change[3], userInfo: present ? parseJson(change[5]) : null, present };
    }
    case 'user':
      return { type: 'user', appId, userId: change[2], online: Number(change[3]) === 1 };
  }
}

/** Parses stored JSON; anything unparsable reads as null. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
