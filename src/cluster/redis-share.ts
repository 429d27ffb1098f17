/** A node's share as the register script takes it (one per app), and the changes the register and reap scripts report. */
import type { ClusterChange, NodeSnapshot } from './adapter.js';
import { RedisKeys, shareField } from './redis-scripts.js';

/** One app's part of a node's share, as `heraldRegister` takes it. */
export interface AppShare {
  readonly appId: string;
  readonly s: [string, number][];
  readonly p: [string, string, string, string][];
  readonly u: [string, string][];
}

/** The snapshot split by app tag, as JSON for `heraldRegister`. */
export function encodeShares(snapshot: NodeSnapshot): Map<string, AppShare> {
  const shares = new Map<string, AppShare>();
  const of = (appId: string): AppShare => {
    const tag = RedisKeys.tag(appId);
    let share = shares.get(tag);
    if (!share) {
      share = { appId, s: [], p: [], u: [] };
      shares.set(tag, share);
    }
    return share;
  };
  for (const { appId, channel, count } of snapshot.subscriptions) if (count > 0) of(appId).s.push([channel, count]);
  for (const { appId, channel, socketId, member } of snapshot.presence) {
    of(appId).p.push([shareField.presence(channel, socketId), channel, member.userId, JSON.stringify(member.userInfo ?? null)]);
  }
  for (const { appId, userId, socketId } of snapshot.signIns) of(appId).u.push([shareField.signin(userId, socketId), userId]);
  return shares;
}

/** The JSON of one app's share. */
export function shareJson(share: AppShare | undefined): string {
  return JSON.stringify({ s: share?.s ?? [], p: share?.p ?? [], u: share?.u ?? [] });
}

/** A change as the register and reap scripts of one app report it. */
export type RawChange =
  | readonly ['count', string, number]
  | readonly ['member', string, string, number, string]
  | readonly ['user', string, number];

/** Decodes the `[state, changes]` JSON the register and reap scripts return. */
export function decodeScriptResult(raw: unknown): { state: string; changes: RawChange[] } {
  const parsed = JSON.parse(String(raw)) as [string, unknown];
  // cjson encodes an empty table as {}, not [].
  const changes = Array.isArray(parsed[1]) ? (parsed[1] as RawChange[]) : [];
  return { state: parsed[0], changes };
}

/** The change for the realtime core. */
export function toClusterChange(appId: string, change: RawChange): ClusterChange {
  switch (change[0]) {
    case 'count':
      return { type: 'count', appId, channel: change[1], count: Number(change[2]) };
    case 'member': {
      const present = Number(change[3]) === 1;
      return { type: 'member', appId, channel: change[1], userId: change[2], userInfo: present ? parseJson(change[4]) : null, present };
    }
    case 'user':
      return { type: 'user', appId, userId: change[1], online: Number(change[2]) === 1 };
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
