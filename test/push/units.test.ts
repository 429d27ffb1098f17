/** Pure parts of push: quiet hours across DST, preferences and their effective result, the push rule's parsing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePreferences, parsePreferences, pushAllowed } from '../../src/push/preferences.js';
import { inQuietHours, quietHoursEnd, type QuietHours } from '../../src/push/quiet-hours.js';
import { DEFAULT_PUSH_RULE, parsePushRuleOverride, resolvePushRule } from '../../src/push/rule.js';
import { HttpError } from '../../src/protocol/errors.js';

const utc = (text: string) => Date.parse(text);
const BERLIN: QuietHours = { tz: 'Europe/Berlin', start: '22:00', end: '07:00' };

function badRequest(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof HttpError && error.status === 400 && pattern.test(error.message));
}

describe('quiet hours', () => {
  it('spans midnight in the user time zone', () => {
    assert.equal(inQuietHours(utc('2026-07-01T19:59:00Z'), BERLIN), false, '21:59 CEST');
    assert.equal(inQuietHours(utc('2026-07-01T20:00:00Z'), BERLIN), true, '22:00 CEST');
    assert.equal(inQuietHours(utc('2026-07-02T04:59:00Z'), BERLIN), true, '06:59 CEST');
    assert.equal(inQuietHours(utc('2026-07-02T05:00:00Z'), BERLIN), false, '07:00 CEST');
    assert.equal(inQuietHours(utc('2026-01-15T21:30:00Z'), BERLIN), true, '22:30 CET');
    assert.equal(inQuietHours(utc('2026-01-15T12:00:00Z'), { tz: 'UTC', start: '12:00', end: '12:00' }), false, 'an empty window');
    assert.equal(inQuietHours(utc('2026-01-15T12:30:00Z'), { tz: 'UTC', start: '12:00', end: '13:00' }), true, 'a window within one day');
  });

  it('ends at 07:00 local time, whichever offset the zone has that morning (DST)', () => {
    assert.equal(new Date(quietHoursEnd(utc('2026-07-01T22:00:00Z'), BERLIN)).toISOString(), '2026-07-02T05:00:00.000Z');
    assert.equal(new Date(quietHoursEnd(utc('2026-01-15T22:00:00Z'), BERLIN)).toISOString(), '2026-01-16T06:00:00.000Z');
    // The night clocks go forward (2026-03-29, 02:00 CET → 03:00 CEST): 23:00 CET to 07:00 CEST.
    assert.equal(new Date(quietHoursEnd(utc('2026-03-28T22:00:00Z'), BERLIN)).toISOString(), '2026-03-29T05:00:00.000Z');
    // The night clocks go back (2026-10-25, 03:00 CEST → 02:00 CET).
    assert.equal(new Date(quietHoursEnd(utc('2026-10-24T21:00:00Z'), BERLIN)).toISOString(), '2026-10-25T06:00:00.000Z');
    const outside = utc('2026-07-01T12:00:00Z');
    assert.equal(quietHoursEnd(outside, BERLIN), outside);
  });

  it('ends at the change when the end time is skipped, and at its first occurrence when it repeats', () => {
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 never happens.
    const skipped: QuietHours = { tz: 'America/New_York', start: '01:00', end: '02:30' };
    assert.equal(new Date(quietHoursEnd(utc('2026-03-08T06:30:00Z'), skipped)).toISOString(), '2026-03-08T07:00:00.000Z');
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    const repeated: QuietHours = { tz: 'America/New_York', start: '00:00', end: '01:30' };
    assert.equal(new Date(quietHoursEnd(utc('2026-11-01T04:10:00Z'), repeated)).toISOString(), '2026-11-01T05:30:00.000Z');
  });
});

describe('preferences', () => {
  const categories = { security: { locked: true, default: true }, marketing: { locked: false, default: false } };

  it('validates a PUT body and names the bad field', () => {
    assert.deepEqual(parsePreferences({}), { push: true, categories: {}, quiet_hours: null });
    badRequest(() => parsePreferences({ push: 'yes' }), /"push"/);
    badRequest(() => parsePreferences({ quiet_hours: { tz: 'Mars/Olympus', start: '22:00', end: '07:00' } }), /quiet_hours\.tz/);
    badRequest(() => parsePreferences({ quiet_hours: { tz: 'UTC', start: '24:00', end: '07:00' } }), /quiet_hours\.start/);
    badRequest(() => parsePreferences({ categories: { 'Bad Name': {} } }), /categories\.Bad Name/);
    badRequest(() => parsePreferences({ categories: { billing: { email: true } } }), /billing\.email/);
    badRequest(() => parsePreferences({ colour: 'red' }), /"colour"/);
  });

  it('answers the effective result: locked wins, then the user, then the app default; push needs the switch', () => {
    const preferences = parsePreferences({
      push: true,
      categories: { security: { push: false, in_app: false }, billing: { push: false } },
      quiet_hours: BERLIN,
    });
    const effective = effectivePreferences(preferences, categories, utc('2026-07-01T21:00:00Z'));
    assert.deepEqual(effective, {
      push: true,
      categories: {
        billing: { in_app: true, push: false, locked: false },
        marketing: { in_app: false, push: false, locked: false },
        security: { in_app: true, push: true, locked: true },
      },
      quiet_hours: BERLIN,
      in_quiet_hours: true,
    });
    const off = parsePreferences({ push: false, categories: { marketing: { push: true, in_app: true } } });
    assert.equal(pushAllowed(off, categories, null), false);
    assert.equal(pushAllowed(off, categories, 'marketing'), false, 'the push switch is off');
    assert.equal(pushAllowed(off, categories, 'security'), true, 'locked');
    assert.equal(pushAllowed(parsePreferences({}), categories, 'marketing'), false, 'off by default');
    assert.equal(pushAllowed(parsePreferences({ categories: { marketing: { push: true } } }), categories, 'marketing'), true);
    assert.equal(pushAllowed(parsePreferences({}), categories, 'unknown'), true);
  });
});

describe('push rule', () => {
  it('takes each field from the notification, else the app default', () => {
    assert.deepEqual(resolvePushRule(DEFAULT_PUSH_RULE, null), { policy: 'if_unseen', delaySeconds: 60, ttlSeconds: 86_400, urgency: 'normal' });
    assert.deepEqual(resolvePushRule(DEFAULT_PUSH_RULE, parsePushRuleOverride({ policy: 'always', delay_seconds: 0 })), {
      policy: 'always',
      delaySeconds: 0,
      ttlSeconds: 86_400,
      urgency: 'normal',
    });
    badRequest(() => parsePushRuleOverride({ policy: 'sometimes' }), /notification\.push\.policy/);
    badRequest(() => parsePushRuleOverride({ delay_seconds: -1 }), /delay_seconds/);
    badRequest(() => parsePushRuleOverride({ ttl_seconds: 1.5 }), /ttl_seconds/);
    badRequest(() => parsePushRuleOverride({ urgency: 'urgent' }), /urgency/);
    badRequest(() => parsePushRuleOverride({ sound: 'ding' }), /notification\.push\.sound/);
    badRequest(() => parsePushRuleOverride('always'), /must be an object/);
  });
});
