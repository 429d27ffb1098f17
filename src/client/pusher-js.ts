/**
 * pusher-js with the types TypeScript can see under NodeNext: its CommonJS entry exports the
 * class itself, while its declarations describe it as a `default` export.
 */
import * as pusherJs from 'pusher-js';

type PusherConstructor = typeof pusherJs.default.default;

/** The pusher-js client class. */
export const PusherJs = ((pusherJs as unknown as { default: PusherConstructor }).default);
/** A pusher-js client. */
export type PusherJs = InstanceType<PusherConstructor>;
export type { Options as PusherJsOptions, Channel as PusherJsChannel, PresenceChannel as PusherJsPresenceChannel } from 'pusher-js';
