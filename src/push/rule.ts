/** The push rule of a notification (design.md §6): when and whether its user's devices get it. Pure. */
import { badRequest } from '../protocol/errors.js';

/** When a due push still goes out: unseen, unread, always, or never (no push at all). */
export type PushPolicy = 'if_unseen' | 'if_unread' | 'always' | 'never';
/** Web Push urgency (RFC 8030 §5.3); FCM and APNs priorities follow it. */
export type PushUrgency = 'very-low' | 'low' | 'normal' | 'high';

export const PUSH_POLICIES: readonly PushPolicy[] = ['if_unseen', 'if_unread', 'always', 'never'];
export const PUSH_URGENCIES: readonly PushUrgency[] = ['very-low', 'low', 'normal', 'high'];
/** Longest delay and time to live: 28 days, the longest any push service keeps a message. */
export const MAX_PUSH_SECONDS = 28 * 24 * 60 * 60;

/** A complete rule. */
export interface PushRule {
  readonly policy: PushPolicy;
  readonly delaySeconds: number;
  readonly ttlSeconds: number;
  readonly urgency: PushUrgency;
}

/** The rule of an app that sets none: push after a minute if the user has not seen it in the app. */
export const DEFAULT_PUSH_RULE: PushRule = { policy: 'if_unseen', delaySeconds: 60, ttlSeconds: 86_400, urgency: 'normal' };

/** What a push body may set; every field falls back to the app's default. */
export type PushRuleOverride = Partial<PushRule>;

function seconds(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PUSH_SECONDS) {
    throw badRequest(`"${field}" must be an integer number of seconds from 0 to ${MAX_PUSH_SECONDS}`);
  }
  return value;
}

/** Validates `notification.push` of a push body (`{ policy?, delay_seconds?, ttl_seconds?, urgency? }`). */
export function parsePushRuleOverride(value: unknown, at = 'notification.push'): PushRuleOverride | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`"${at}" must be an object`);
  const { policy, delay_seconds: delay, ttl_seconds: ttl, urgency, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${at}.${unknown}" is not a push rule field (policy, delay_seconds, ttl_seconds, urgency)`);
  const rule: { -readonly [K in keyof PushRule]?: PushRule[K] } = {};
  if (policy !== undefined) {
    if (!PUSH_POLICIES.includes(policy as PushPolicy)) throw badRequest(`"${at}.policy" must be one of ${PUSH_POLICIES.join(', ')}`);
    rule.policy = policy as PushPolicy;
  }
  if (urgency !== undefined) {
    if (!PUSH_URGENCIES.includes(urgency as PushUrgency)) throw badRequest(`"${at}.urgency" must be one of ${PUSH_URGENCIES.join(', ')}`);
    rule.urgency = urgency as PushUrgency;
  }
  if (delay !== undefined) rule.delaySeconds = seconds(delay, `${at}.delay_seconds`);
  if (ttl !== undefined) rule.ttlSeconds = seconds(ttl, `${at}.ttl_seconds`);
  return rule;
}

/** The rule of one notification: its own fields over the app's default. */
export function resolvePushRule(appDefault: PushRule, override: PushRuleOverride | null): PushRule {
  return override === null ? appDefault : { ...appDefault, ...override };
}
