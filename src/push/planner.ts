/**
 * The push rule, evaluated for one user's due jobs (design.md §6): which notifications still go
 * out, which wait for the end of quiet hours, and the one message every device then gets. Pure:
 * the worker loads the state and stores the result.
 */
import { createHash } from 'node:crypto';
import type { App } from '../config/apps.js';
import { toNotificationJson } from '../inbox/notification-json.js';
import type { StoredNotification } from '../store/store.js';
import type { JobSettlement, NewDelivery, PushJob, StoredDevice } from '../store/push-store.js';
import { singleBody, summaryBody, SUMMARY_TAG } from './message.js';
import { pushState } from './notification-state.js';
import { DEFAULT_PREFERENCES, pushAllowed, type Preferences } from './preferences.js';
import { inQuietHours, quietHoursEnd } from './quiet-hours.js';
import { PUSH_URGENCIES, type PushUrgency } from './rule.js';

/** What the evaluation of one user's due jobs reads. */
export interface UserPushInput {
  readonly app: App;
  readonly userId: string;
  readonly jobs: readonly PushJob[];
  /** The stored notification of each job, by id (absent or null: deleted). */
  readonly notifications: ReadonlyMap<string, StoredNotification | null>;
  readonly preferences: Preferences | null;
  readonly devices: readonly StoredDevice[];
  /** The user's unread count (the badge). */
  readonly unread: number;
  readonly nowMs: number;
}

/** Why a job did not go out (for logs and tests). */
export type SkipReason = 'gone' | 'not_live' | 'seen' | 'opened' | 'expired' | 'preferences' | 'no_device';

/** The settlement, and what was decided per job. */
export interface UserPushPlan extends JobSettlement {
  readonly sent: readonly string[];
  readonly skipped: ReadonlyMap<string, SkipReason>;
}

function skipReason(job: PushJob, row: StoredNotification | null, input: UserPushInput, preferences: Preferences): SkipReason | null {
  if (row === null) return 'gone';
  const state = pushState(row, input.nowMs);
  if (!state.live) return 'not_live';
  if (job.policy === 'if_unseen' && state.seen) return 'seen';
  if (job.policy === 'if_unread' && state.opened) return 'opened';
  if (input.nowMs > job.dueAt.getTime() + job.ttlSeconds * 1000) return 'expired';
  if (!pushAllowed(preferences, input.app.categories, state.category)) return 'preferences';
  return null;
}

/** Plans the push of one user's due jobs. */
export function planUserPush(input: UserPushInput): UserPushPlan {
  const preferences = input.preferences ?? DEFAULT_PREFERENCES;
  const quiet = preferences.quiet_hours;
  const quietNow = quiet !== null && inQuietHours(input.nowMs, quiet);
  const done: PushJob[] = [];
  const held: { job: PushJob; until: Date }[] = [];
  const skipped = new Map<string, SkipReason>();
  const ready: { job: PushJob; row: StoredNotification }[] = [];
  for (const job of input.jobs) {
    const row = input.notifications.get(job.notificationId) ?? null;
    const reason = skipReason(job, row, input, preferences);
    if (reason !== null) {
      skipped.set(job.notificationId, reason);
      done.push(job);
    } else if (quietNow && pushState(row, input.nowMs).priority !== 'critical') {
      held.push({ job, until: new Date(quietHoursEnd(input.nowMs, quiet!)) });
    } else {
      ready.push({ job, row: row! });
      done.push(job);
    }
  }
  ready.sort((a, b) => (a.row.seq ?? 0) - (b.row.seq ?? 0));
  if (ready.length > 0 && input.devices.length === 0) for (const { job } of ready.splice(0)) skipped.set(job.notificationId, 'no_device');
  return { done, held, deliveries: deliveriesOf(ready, input), sent: ready.map(({ job }) => job.notificationId), skipped };
}

/** One message for all that is ready (a summary when several are), to every device of the user. */
function deliveriesOf(ready: readonly { job: PushJob; row: StoredNotification }[], input: UserPushInput): NewDelivery[] {
  if (ready.length === 0) return [];
  const { app, userId } = input;
  const single = ready.length === 1;
  const body = single
    ? singleBody(toNotificationJson(ready[0].row), input.unread, app.id, userId, app.secret)
    : summaryBody(ready.map(({ row }) => row.id), input.unread, app.id, userId);
  const critical = ready.some(({ row }) => pushState(row, input.nowMs).priority === 'critical');
  const urgency = critical ? 'high' : highestUrgency(ready.map(({ job }) => job.urgency));
  const expiresAt = new Date(Math.max(...ready.map(({ job }) => job.dueAt.getTime() + job.ttlSeconds * 1000)));
  const messageId = createHash('sha256')
    .update(JSON.stringify([app.id, userId, ready.map(({ row }) => [row.id, row.seq]), input.nowMs]))
    .digest('base64url')
    .slice(0, 22);
  const message = JSON.stringify({ ...body, message_id: messageId });
  const createdAt = new Date(input.nowMs);
  return input.devices.map((device) => ({
    appId: app.id,
    userId,
    deviceId: device.id,
    message,
    urgency,
    collapseKey: single ? ready[0].row.id : SUMMARY_TAG,
    expiresAt,
    createdAt,
  }));
}

function highestUrgency(urgencies: readonly PushUrgency[]): PushUrgency {
  return urgencies.reduce((a, b) => (PUSH_URGENCIES.indexOf(b) > PUSH_URGENCIES.indexOf(a) ? b : a));
}
