/** What the runner asks of load worker processes over IPC, and what they answer. */
import type { HistogramData } from '../histogram.js';
import type { AppCredentials } from '../server-process.js';

/** Where the server under test listens, and the app to use on it. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly app: AppCredentials;
}

/** Which channel socket (or event) number i uses: one shared channel, or `prefix + i` each. */
export type ChannelPlan = { readonly kind: 'shared'; readonly channel: string } | { readonly kind: 'per-socket'; readonly prefix: string; readonly count: number };

export function channelOf(plan: ChannelPlan, index: number): string {
  return plan.kind === 'shared' ? plan.channel : `${plan.prefix}${index}`;
}

/** Events at a fixed rate over the HTTP API. Event k goes to channel k mod count, as that channel's event k div count. */
export interface TriggerPlan {
  readonly channels: ChannelPlan;
  readonly events: number;
  /** Events per second (a batch of 10 counts 10). */
  readonly rate: number;
  /** 1: `POST /events`; more: `POST /batch_events` with that many events, each to its own channel. */
  readonly batchSize: number;
  readonly payloadBytes: number;
  /** Requests waiting for an answer at most; beyond it the schedule slips (reported as `late`). */
  readonly maxInFlight: number;
  /** Sending stops after this long even if events are left (reported as `unsent`). */
  readonly timeoutMs: number;
}

/** Sockets that connect, subscribe to a channel, stay `holdMs`, and close, at a fixed rate. */
export interface ChurnPlan {
  readonly channel: string;
  readonly rate: number;
  readonly durationMs: number;
  readonly holdMs: number;
  /** Churn sockets open at once at most; starts beyond it are skipped (reported). */
  readonly maxOpen: number;
}

export type Command =
  | { readonly cmd: 'connect'; readonly server: ServerAddress; readonly firstIndex: number; readonly count: number; readonly channels: ChannelPlan; readonly concurrency: number }
  | { readonly cmd: 'reset' }
  | { readonly cmd: 'progress' }
  | { readonly cmd: 'stats' }
  | { readonly cmd: 'close' }
  | { readonly cmd: 'trigger'; readonly server: ServerAddress; readonly plan: TriggerPlan }
  | { readonly cmd: 'churn'; readonly server: ServerAddress; readonly plan: ChurnPlan }
  | { readonly cmd: 'inbox'; readonly server: ServerAddress; readonly users: number; readonly pushes: number; readonly serverPid: number | null };

export interface ConnectReply {
  readonly connected: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly elapsedMs: number;
  /** Socket open to `subscription_succeeded`. */
  readonly subscribeLatency: HistogramData;
}

export interface ProgressReply {
  readonly delivered: number;
}

export interface StatsReply {
  readonly sockets: number;
  readonly delivered: number;
  /**
   * Events that arrived with a sequence number not above the previous one on that socket. Not a
   * fault: events triggered by HTTP requests that overlap (on several keep-alive connections)
   * may be published in either order; loss and duplicates show in the per-socket counts.
   */
  readonly reordered: number;
  /** Fewest and most events one socket received. */
  readonly minPerSocket: number;
  readonly maxPerSocket: number;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly latency: HistogramData;
  readonly pusherErrors: number;
  readonly firstPusherError: string | null;
  /** Sockets the server closed while the benchmark still held them. */
  readonly closedByServer: number;
}

export interface TriggerReply {
  readonly events: number;
  readonly accepted: number;
  readonly failedRequests: number;
  readonly firstError: string | null;
  /** Events of requests that got no HTTP answer (timeout, reset): the server may or may not have published them. */
  readonly unanswered: number;
  readonly unsent: number;
  /** Sends that left later than their slot by more than one interval because `maxInFlight` requests were waiting. */
  readonly late: number;
  readonly firstSendAt: number;
  readonly lastSendAt: number;
  readonly requestLatency: HistogramData;
}

export interface ChurnReply {
  readonly started: number;
  readonly subscribed: number;
  readonly closed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly firstError: string | null;
  readonly elapsedMs: number;
  readonly subscribeLatency: HistogramData;
  /** Fan-out events the churn sockets received while they were open. */
  readonly delivered: number;
}

export interface InboxReply {
  readonly fanOut: Record<string, number | null>;
  readonly singleUser: Record<string, number | null>;
}

/** The reply type of each command. */
export interface Replies {
  connect: ConnectReply;
  reset: null;
  progress: ProgressReply;
  stats: StatsReply;
  close: null;
  trigger: TriggerReply;
  churn: ChurnReply;
  inbox: InboxReply;
}

/** An IPC request envelope and its answer. */
export interface Request {
  readonly id: number;
  readonly command: Command;
}

export type Response = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };
