/** The pure parts of `<herald-inbox>`: message catalogs and direction, relative times, snooze times. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { directionOf, format, messagesFor, registerMessages } from '../../src/inbox-ui/messages.js';
import { snoozeUntil } from '../../src/inbox-ui/notification-row.js';
import { relativeTime } from '../../src/inbox-ui/relative-time.js';

describe('inbox UI messages', () => {
  it('picks the exact tag, then the language, then English', () => {
    assert.equal(messagesFor('de').title, 'Benachrichtigungen');
    assert.equal(messagesFor('de-AT').title, 'Benachrichtigungen');
    assert.equal(messagesFor('ar-EG').title, 'الإشعارات');
    assert.equal(messagesFor('xx').title, 'Notifications');
  });

  it('writes Arabic, Hebrew and Persian right to left, the others left to right', () => {
    assert.deepEqual(['ar', 'ar-SA', 'he', 'fa', 'en', 'de-DE', 'zh'].map(directionOf), ['rtl', 'rtl', 'rtl', 'rtl', 'ltr', 'ltr', 'ltr']);
  });

  it('fills placeholders and leaves unknown ones', () => {
    assert.equal(format(messagesFor('en').bellLabel, { count: 3 }), 'Notifications, 3 unread');
    assert.equal(format('{count} of {total}', { count: 1 }), '1 of {total}');
  });

  it('adds a language over English, and overrides texts of a shipped one', () => {
    registerMessages('fr', { title: 'Notifications (fr)', markAllRead: 'Tout marquer comme lu' });
    assert.equal(messagesFor('fr-CA').markAllRead, 'Tout marquer comme lu');
    assert.equal(messagesFor('fr').retry, 'Try again', 'missing texts come from English');
    registerMessages('de-CH', { close: 'Schliessen' });
    assert.equal(messagesFor('de-CH').close, 'Schliessen');
    assert.equal(messagesFor('de-CH').title, 'Benachrichtigungen');
    assert.equal(messagesFor('de').close, 'Schließen');
  });

  it('ships every text in every language', () => {
    const keys = Object.keys(messagesFor('en')).sort();
    for (const locale of ['de', 'ar']) {
      const messages = messagesFor(locale) as unknown as Record<string, string>;
      assert.deepEqual(Object.keys(messages).sort(), keys);
      for (const key of keys) assert.notEqual(messages[key], (messagesFor('en') as unknown as Record<string, string>)[key], `${locale}.${key} is translated`);
    }
  });
});

describe('relative times', () => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  const ago = (seconds: number) => new Date(now - seconds * 1000).toISOString();

  it('says now, minutes, hours, yesterday, weeks in the locale', () => {
    assert.equal(relativeTime(ago(5), now, 'en'), 'now');
    assert.equal(relativeTime(ago(3 * 60), now, 'en'), '3 minutes ago');
    assert.equal(relativeTime(ago(2 * 3600 + 10), now, 'en'), '2 hours ago');
    assert.equal(relativeTime(ago(86_400 + 60), now, 'en'), 'yesterday');
    assert.equal(relativeTime(ago(15 * 86_400), now, 'en'), '2 weeks ago');
    assert.equal(relativeTime(ago(3 * 60), now, 'de'), 'vor 3 Minuten');
    assert.match(relativeTime(ago(3 * 60), now, 'ar'), /[\u0600-\u06FF]/);
  });

  it('treats a clock slightly behind the server as now', () => {
    assert.equal(relativeTime(new Date(now + 20_000).toISOString(), now, 'en'), 'now');
  });
});

describe('snooze times', () => {
  it('is an hour later, tomorrow at 9:00, or next Monday at 9:00, in local time', () => {
    const friday = new Date(2026, 11, 4, 16, 30);
    assert.equal(snoozeUntil('hour', friday).getTime(), friday.getTime() + 3_600_000);
    assert.deepEqual(snoozeUntil('tomorrow', friday), new Date(2026, 11, 5, 9, 0));
    assert.deepEqual(snoozeUntil('week', friday), new Date(2026, 11, 7, 9, 0));
    const monday = new Date(2026, 11, 7, 8, 0);
    assert.deepEqual(snoozeUntil('week', monday), new Date(2026, 11, 14, 9, 0), 'on a Monday, the next one');
  });
});

describe('package exports', () => {
  it('herald/inbox-ui and herald/react import in Node (no DOM): nothing is defined, nothing throws', async () => {
    // Through the package's own exports, as an app imports them (not resolved by tsc: dist is built after it).
    const specifiers = ['herald/inbox-ui', 'herald/react'];
    const ui = (await import(specifiers[0])) as typeof import('../../src/inbox-ui/index.js');
    assert.equal(typeof ui.HeraldInboxElement, 'function');
    assert.equal(typeof ui.InboxClient, 'function');
    ui.defineHeraldInbox();
    const react = (await import(specifiers[1])) as typeof import('../../src/react/index.js');
    assert.deepEqual(Object.keys(react).sort(), ['HeraldInbox', 'HeraldProvider', 'useCounts', 'useHeraldClient', 'useInbox']);
  });
});

describe('the element bundle', () => {
  it('/sdk/herald-inbox.js (client SDK included) stays under 40 KB gzip', () => {
    const bundle = readFileSync(new URL('../../inbox-ui/herald-inbox.js', import.meta.url));
    const gzipped = gzipSync(bundle, { level: 9 }).length;
    assert.ok(gzipped < 40 * 1024, `${(gzipped / 1024).toFixed(1)} KB gzip`);
  });
});
