/** Apps and their per-app options: the apps file schema, defaults and lookup. */
import { z } from 'zod';
import { channelKind, channelNameProblem } from '../protocol/channels.js';
import { pushOptionsSchema, categoriesSchema, appPushFromFile, type AppPush } from '../push/push-options.js';
import type { CategoryOptions } from '../push/preferences.js';
import {
  DEFAULT_CLIENT_EVENT_RATE,
  DEFAULT_CLIENT_PUSH_MAX_RECIPIENTS,
  DEFAULT_CLIENT_PUSH_NOTIFICATIONS_PER_MINUTE,
  DEFAULT_MAX_BACKEND_EVENTS_PER_SECOND,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_CHANNELS_PER_TRIGGER,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_PRESENCE_MEMBERS,
  DEFAULT_MAX_PRESENCE_MEMBER_BYTES,
  DEFAULT_MAX_READ_REQUESTS_PER_SECOND,
} from '../protocol/limits.js';

const webhookSchema = z
  .object({
    url: z.string().url(),
    events: z.array(z.string().min(1)).optional(),
    filter: z
      .object({
        channel_name_starts_with: z.string().optional(),
        channel_name_ends_with: z.string().optional(),
      })
      .strict()
      .optional(),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** One app as written in the apps file (snake_case). */
export const appFileSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_\-.]+$/, 'may only contain letters, digits, _, - and .'),
    key: z.string().min(1).regex(/^[A-Za-z0-9_\-.]+$/, 'may only contain letters, digits, _, - and .'),
    secret: z.string().min(1),
    name: z.string().optional(),
    enabled: z.boolean().default(true),
    max_connections: z.number().int().positive().nullable().default(null),
    max_connections_per_ip: z.number().int().positive().nullable().default(null),
    max_channels_per_connection: z.number().int().positive().default(DEFAULT_MAX_CHANNELS_PER_CONNECTION),
    allowed_origins: z
      .array(z.string().refine((origin) => origin === '*' || isOrigin(origin), 'must be "*" or an origin: scheme, host and optional port, e.g. https://app.example.com'))
      .min(1)
      .nullable()
      .default(null),
    max_event_payload_bytes: z.number().int().positive().default(DEFAULT_MAX_PAYLOAD_BYTES),
    max_channels_per_trigger: z.number().int().positive().default(DEFAULT_MAX_CHANNELS_PER_TRIGGER),
    max_batch_events: z.number().int().positive().default(DEFAULT_MAX_BATCH_EVENTS),
    client_events: z.boolean().default(false),
    client_event_rate: z.number().positive().default(DEFAULT_CLIENT_EVENT_RATE),
    max_backend_events_per_second: z.number().positive().nullable().default(DEFAULT_MAX_BACKEND_EVENTS_PER_SECOND),
    max_read_requests_per_second: z.number().positive().nullable().default(DEFAULT_MAX_READ_REQUESTS_PER_SECOND),
    authorised_connections: z.boolean().default(false),
    subscription_count: z.boolean().default(false),
    max_presence_members: z.number().int().positive().default(DEFAULT_MAX_PRESENCE_MEMBERS),
    max_presence_member_bytes: z.number().int().positive().default(DEFAULT_MAX_PRESENCE_MEMBER_BYTES),
    allow_client_push: z.boolean().default(false),
    client_push_max_recipients: z.number().int().positive().max(10_000).default(DEFAULT_CLIENT_PUSH_MAX_RECIPIENTS),
    client_push_notifications_per_minute: z.number().positive().default(DEFAULT_CLIENT_PUSH_NOTIFICATIONS_PER_MINUTE),
    inbox_channel_template: z
      .string()
      .refine((t) => t.includes('{userId}'), 'must contain {userId}')
      .refine(isPrivateInboxTemplate, 'must make private- or presence- channels (not encrypted, not cache), e.g. private-{userId}')
      .default('private-{userId}'),
    inbox_event_name: z.string().min(1).max(200).default('Internal Notification'),
    webhooks: z.array(webhookSchema).default([]),
    webhook_retry_window_seconds: z.number().positive().default(300),
    push: pushOptionsSchema.default({}),
    categories: categoriesSchema.default({}),
  })
  .strict();

/** The apps file: `{ "apps": [ ... ] }`. */
export const appsFileSchema = z.object({ apps: z.array(appFileSchema).min(1) }).strict();

/** A webhook target of an app. */
export type WebhookConfig = z.infer<typeof webhookSchema>;

/** An app with every option resolved. */
export interface App {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Maximum concurrent connections (4004 beyond), or null for no limit. */
  readonly maxConnections: number | null;
  /** Maximum concurrent connections from one client address on this node (4100 beyond), or null for no limit. */
  readonly maxConnectionsPerIp: number | null;
  /** Channels one socket may be subscribed to at once (subscription_error beyond). */
  readonly maxChannelsPerConnection: number;
  /** Browser origins whose pages may open WebSockets (`*`: any), lower-cased; null: no check. */
  readonly allowedOrigins: readonly string[] | null;
  readonly maxEventPayloadBytes: number;
  readonly maxChannelsPerTrigger: number;
  readonly maxBatchEvents: number;
  readonly clientEvents: boolean;
  /** Client events per second per socket. */
  readonly clientEventRate: number;
  /** Events per second the backend may publish on /events, /batch_events and /notifications (429 beyond; null: no limit). */
  readonly maxBackendEventsPerSecond: number | null;
  /** GET requests per second on the app's HTTP routes (429 beyond; null: no limit). */
  readonly maxReadRequestsPerSecond: number | null;
  /** Close sockets that neither sign in nor join an authorised channel within 30 s. */
  readonly authorisedConnections: boolean;
  /** Send `pusher:subscription_count` to subscribers when the count changes. */
  readonly subscriptionCount: boolean;
  readonly maxPresenceMembers: number;
  readonly maxPresenceMemberBytes: number;
  readonly allowClientPush: boolean;
  /** Most recipients of one push with a user token (400 beyond). */
  readonly clientPushMaxRecipients: number;
  /** Notifications (one per recipient) one user may push per minute with user tokens, per node (429 beyond). */
  readonly clientPushNotificationsPerMinute: number;
  /** Inbox channel of a user, `{userId}` replaced. */
  readonly inboxChannelTemplate: string;
  readonly inboxEventName: string;
  readonly webhooks: readonly WebhookConfig[];
  /** How long a webhook batch is retried (from its creation) before it is parked. */
  readonly webhookRetryWindowSeconds: number;
  /** Push providers (Web Push, FCM, APNs) and the default push rule. */
  readonly push: AppPush;
  /** Notification categories: locked ones, and ones off unless a user turns them on. */
  readonly categories: Readonly<Record<string, CategoryOptions>>;
}

/** Converts a validated apps-file entry to an App. */
export function appFromFile(entry: z.infer<typeof appFileSchema>): App {
  return {
    id: entry.id,
    key: entry.key,
    secret: entry.secret,
    name: entry.name ?? entry.id,
    enabled: entry.enabled,
    maxConnections: entry.max_connections,
    maxConnectionsPerIp: entry.max_connections_per_ip,
    maxChannelsPerConnection: entry.max_channels_per_connection,
    allowedOrigins: entry.allowed_origins?.map((origin) => origin.toLowerCase()) ?? null,
    maxEventPayloadBytes: entry.max_event_payload_bytes,
    maxChannelsPerTrigger: entry.max_channels_per_trigger,
    maxBatchEvents: entry.max_batch_events,
    clientEvents: entry.client_events,
    clientEventRate: entry.client_event_rate,
    maxBackendEventsPerSecond: entry.max_backend_events_per_second,
    maxReadRequestsPerSecond: entry.max_read_requests_per_second,
    authorisedConnections: entry.authorised_connections,
    subscriptionCount: entry.subscription_count,
    maxPresenceMembers: entry.max_presence_members,
    maxPresenceMemberBytes: entry.max_presence_member_bytes,
    allowClientPush: entry.allow_client_push,
    clientPushMaxRecipients: entry.client_push_max_recipients,
    clientPushNotificationsPerMinute: entry.client_push_notifications_per_minute,
    inboxChannelTemplate: entry.inbox_channel_template,
    inboxEventName: entry.inbox_event_name,
    webhooks: entry.webhooks,
    webhookRetryWindowSeconds: entry.webhook_retry_window_seconds,
    push: appPushFromFile(entry.push),
    categories: entry.categories,
  };
}

/** Builds an App from partial snake_case options, filling every default. Throws ConfigError on bad input. */
export function defineApp(options: z.input<typeof appFileSchema>): App {
  const parsed = appFileSchema.safeParse(options);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, `app "${String(options.id)}"`));
  return appFromFile(parsed.data);
}

/** A configuration error whose message names the bad field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Formats zod issues as `where.field: problem` lines. */
export function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${where}${path ? `.${path}` : ''}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses and validates the text of an apps file. Throws ConfigError naming the bad field. */
export function parseAppsFile(text: string, fileName: string): App[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${fileName}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = appsFileSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, fileName));
  const apps = parsed.data.apps.map(appFromFile);
  assertUnique(apps, 'id', fileName);
  assertUnique(apps, 'key', fileName);
  return apps;
}

function assertUnique(apps: App[], field: 'id' | 'key', fileName: string): void {
  const seen = new Set<string>();
  for (const [index, app] of apps.entries()) {
    if (seen.has(app[field])) throw new ConfigError(`${fileName}: apps.${index}.${field}: "${app[field]}" is used by another app`);
    seen.add(app[field]);
  }
}

/** Finds apps by id or key. */
export class AppRegistry {
  private byId = new Map<string, App>();
  private byKey = new Map<string, App>();

  constructor(apps: Iterable<App>) {
    this.replace(apps);
  }

  /** Swaps the whole set of apps (used on reload). */
  replace(apps: Iterable<App>): void {
    this.byId = new Map();
    this.byKey = new Map();
    for (const app of apps) {
      this.byId.set(app.id, app);
      this.byKey.set(app.key, app);
    }
  }

  findById(id: string): App | undefined {
    return this.byId.get(id);
  }

  findByKey(key: string): App | undefined {
    return this.byKey.get(key);
  }

  all(): App[] {
    return [...this.byId.values()];
  }
}

/** The inbox channel of a user in an app. */
export function inboxChannel(app: App, userId: string): string {
  // A replacer function, so `$&`, `$'` and the like in a user id are inserted literally.
  return app.inboxChannelTemplate.replace('{userId}', () => userId);
}

/**
 * The inbox channel of a user when live delivery can use it: a valid channel name of the same
 * kind as the template's. A user id such as `cache-bob` would turn `private-{userId}` into a cache
 * channel, and `auth0|1` is no channel name at all: such users are stored and read over HTTP only.
 */
export function liveInboxChannel(app: App, userId: string): string | null {
  const channel = inboxChannel(app, userId);
  if (channelNameProblem(channel)) return null;
  return channelKind(channel) === templateKind(app.inboxChannelTemplate) ? channel : null;
}

/** The kind of channel an inbox template makes of an ordinary user id, computed once per template. */
const templateKinds = new Map<string, ReturnType<typeof channelKind>>();
function templateKind(template: string): ReturnType<typeof channelKind> {
  let kind = templateKinds.get(template);
  if (kind === undefined) {
    kind = channelKind(template.replace('{userId}', 'user'));
    templateKinds.set(template, kind);
  }
  return kind;
}

/** Whether a WebSocket upgrade's `Origin` header is allowed by the app (a missing one always is: only browsers send it). */
export function originAllowed(app: App, origin: string | undefined): boolean {
  if (app.allowedOrigins === null || origin === undefined) return true;
  return app.allowedOrigins.includes('*') || app.allowedOrigins.includes(origin.toLowerCase());
}

/** Whether text is a serialised origin as browsers send it: `scheme://host[:port]`, nothing more (no wildcards). */
function isOrigin(text: string): boolean {
  if (text.includes('*')) return false;
  try {
    return new URL(text).origin === text.toLowerCase();
  } catch {
    return false;
  }
}

function isPrivateInboxTemplate(template: string): boolean {
  const sample = template.replace('{userId}', 'user');
  const kind = channelKind(sample);
  return channelNameProblem(sample) === null && kind.authorised && !kind.encrypted && !kind.cache;
}
