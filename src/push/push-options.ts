/** The apps-file options of push (`"push"`, `"categories"`) and their resolved form. */
import { z } from 'zod';
import { CATEGORY_PATTERN, type CategoryOptions } from './preferences.js';
import { DEFAULT_PUSH_RULE, MAX_PUSH_SECONDS, PUSH_POLICIES, PUSH_URGENCIES, type PushRule } from './rule.js';

const seconds = z.number().int().min(0).max(MAX_PUSH_SECONDS);
const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding');

const ruleSchema = z
  .object({
    policy: z.enum(PUSH_POLICIES as [string, ...string[]]).default(DEFAULT_PUSH_RULE.policy),
    delay_seconds: seconds.default(DEFAULT_PUSH_RULE.delaySeconds),
    ttl_seconds: seconds.default(DEFAULT_PUSH_RULE.ttlSeconds),
    urgency: z.enum(PUSH_URGENCIES as [string, ...string[]]).default(DEFAULT_PUSH_RULE.urgency),
  })
  .strict();

const vapidSchema = z
  .object({
    subject: z.string().regex(/^(mailto:|https:\/\/)/, 'must be a mailto: or https: URL (push services contact it)'),
    public_key: base64url.optional(),
    private_key: base64url.optional(),
  })
  .strict()
  .refine((vapid) => (vapid.public_key === undefined) === (vapid.private_key === undefined), 'set both public_key and private_key, or neither (then they are generated and stored)');

/** A Firebase service account, with the fields of its JSON key file. */
const fcmSchema = z
  .object({
    project_id: z.string().min(1),
    client_email: z.string().min(1),
    private_key: z.string().includes('PRIVATE KEY', { message: 'must be the PEM private key of the service account' }),
    token_uri: z.string().url().default('https://oauth2.googleapis.com/token'),
    base_url: z.string().url().default('https://fcm.googleapis.com'),
  })
  .passthrough();

const apnsSchema = z
  .object({
    team_id: z.string().min(1),
    key_id: z.string().min(1),
    /** The .p8 key's PEM text. */
    private_key: z.string().includes('PRIVATE KEY', { message: 'must be the PEM text of the .p8 key' }),
    /** The app's bundle id (the `apns-topic`). */
    topic: z.string().min(1),
    base_url: z.string().url().default('https://api.push.apple.com'),
  })
  .strict();

/** `"push": { vapid?, fcm?, apns?, default? }`. */
export const pushOptionsSchema = z
  .object({
    vapid: vapidSchema.optional(),
    fcm: fcmSchema.optional(),
    apns: apnsSchema.optional(),
    default: ruleSchema.optional(),
  })
  .strict();

/** `"categories": { name: { locked?, default? } }`. */
export const categoriesSchema = z.record(
  z.string().regex(CATEGORY_PATTERN, 'a category is 1-64 characters of a-z 0-9 _ . -'),
  z.object({ locked: z.boolean().default(false), default: z.boolean().default(true) }).strict(),
);

/** Subject of VAPID tokens when the apps file names none. */
export const DEFAULT_VAPID_SUBJECT = 'mailto:push@herald.invalid';

export interface FcmOptions {
  readonly projectId: string;
  readonly clientEmail: string;
  readonly privateKey: string;
  readonly tokenUri: string;
  readonly baseUrl: string;
}

export interface ApnsOptions {
  readonly teamId: string;
  readonly keyId: string;
  readonly privateKey: string;
  readonly topic: string;
  readonly baseUrl: string;
}

/** An app's push options, resolved. */
export interface AppPush {
  readonly vapidSubject: string;
  /** Configured keys; null: generated on first start and kept in the store. */
  readonly vapidKeys: { readonly publicKey: string; readonly privateKey: string } | null;
  readonly fcm: FcmOptions | null;
  readonly apns: ApnsOptions | null;
  readonly defaultRule: PushRule;
}

/** Resolves the validated `push` option. */
export function appPushFromFile(push: z.infer<typeof pushOptionsSchema>): AppPush {
  const rule = push.default;
  return {
    vapidSubject: push.vapid?.subject ?? DEFAULT_VAPID_SUBJECT,
    vapidKeys: push.vapid?.public_key && push.vapid.private_key ? { publicKey: push.vapid.public_key, privateKey: push.vapid.private_key } : null,
    fcm: push.fcm
      ? { projectId: push.fcm.project_id, clientEmail: push.fcm.client_email, privateKey: push.fcm.private_key, tokenUri: push.fcm.token_uri, baseUrl: push.fcm.base_url }
      : null,
    apns: push.apns
      ? { teamId: push.apns.team_id, keyId: push.apns.key_id, privateKey: push.apns.private_key, topic: push.apns.topic, baseUrl: push.apns.base_url }
      : null,
    defaultRule: rule
      ? { policy: rule.policy as PushRule['policy'], delaySeconds: rule.delay_seconds, ttlSeconds: rule.ttl_seconds, urgency: rule.urgency as PushRule['urgency'] }
      : DEFAULT_PUSH_RULE,
  };
}

export type { CategoryOptions };
