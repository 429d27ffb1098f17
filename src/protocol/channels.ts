/** Channel names and kinds, decided by prefix as Pusher does. Pure functions. */
import { Errors } from './errors.js';
import { MAX_CHANNEL_NAME_LENGTH } from './limits.js';

/** What a channel's name makes it. */
export interface ChannelKind {
  /** Subscription needs a signature (private-, presence-, private-encrypted-). */
  readonly authorised: boolean;
  /** Presence channel: subscriptions carry `channel_data` and are tracked as members. */
  readonly presence: boolean;
  /** End-to-end encrypted: the server relays payloads as is and refuses client events. */
  readonly encrypted: boolean;
  /** Cache channel: the last event is kept and replayed to new subscribers. */
  readonly cache: boolean;
  /** `#server-to-user-{id}`: only the signed-in user with that id may subscribe. */
  readonly serverToUser: boolean;
}

/** Prefix of the channel pusher-js subscribes to after `pusher:signin`. */
export const SERVER_TO_USER_PREFIX = '#server-to-user-';

const kind = (authorised: boolean, presence: boolean, encrypted: boolean, cache: boolean, serverToUser = false): ChannelKind =>
  Object.freeze({ authorised, presence, encrypted, cache, serverToUser });

// Longest prefix first: `private-encrypted-cache-` must win over `private-`.
const PREFIXES: readonly [string, ChannelKind][] = [
  ['private-encrypted-cache-', kind(true, false, true, true)],
  ['private-encrypted-', kind(true, false, true, false)],
  ['private-cache-', kind(true, false, false, true)],
  ['private-', kind(true, false, false, false)],
  ['presence-cache-', kind(true, true, false, true)],
  ['presence-', kind(true, true, false, false)],
  ['cache-', kind(false, false, false, true)],
  [SERVER_TO_USER_PREFIX, kind(false, false, false, false, true)],
];
const PUBLIC = kind(false, false, false, false);

/** The kind of a channel, from its name. */
export function channelKind(name: string): ChannelKind {
  for (const [prefix, k] of PREFIXES) if (name.startsWith(prefix)) return k;
  return PUBLIC;
}

const NAME_PATTERN = /^[A-Za-z0-9_\-=@,.;]+$/;

/** Why a channel name is invalid, or null if it is valid. `#server-to-user-{id}` is allowed. */
export function channelNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'channel name must be a non-empty string';
  if (name.length > MAX_CHANNEL_NAME_LENGTH) return `channel name is longer than ${MAX_CHANNEL_NAME_LENGTH} characters`;
  if (name.startsWith(SERVER_TO_USER_PREFIX)) {
    const rest = name.slice(SERVER_TO_USER_PREFIX.length);
    return rest.length > 0 && NAME_PATTERN.test(rest) ? null : 'invalid user id in #server-to-user- channel';
  }
  if (name.startsWith('#')) return 'channel names starting with # are reserved';
  if (!NAME_PATTERN.test(name)) return 'channel name may only contain A-Z, a-z, 0-9, _, -, =, @, ",", . and ;';
  // A bare prefix (e.g. "private-" or "cache-") names nothing.
  if (PREFIXES.some(([prefix]) => name === prefix)) return 'channel name has no name after its prefix';
  return null;
}

/** Throws a (non-closing) protocol error when a channel name is invalid. */
export function assertChannelName(name: unknown): asserts name is string {
  const problem = channelNameProblem(name);
  if (problem) throw Errors.invalidChannelName(problem);
}

/** The user id in a `#server-to-user-{id}` channel name. */
export function serverToUserId(name: string): string {
  return name.slice(SERVER_TO_USER_PREFIX.length);
}
