/** NotificationFrames: one notification's live event serialised once, finished per user, equal to encoding it per user. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toNotificationJson } from '../../src/inbox/notification-json.js';
import { NotificationFrames } from '../../src/inbox/notification-frames.js';
import { encodeEvent } from '../../src/protocol/messages.js';
import type { StoredNotification } from '../../src/store/store.js';

function row(overrides: Partial<StoredNotification> = {}): StoredNotification {
  return {
    appId: 'app',
    userId: 'u1',
    id: 'n1',
    seq: 7,
    heading: 'He said "hi"\n',
    content: 'naïve ☃ </script> \u2028 \\ done',
    payload: { nested: { seq: 0, list: [1, 'two', null] }, '"quoted"': true },
    imageUrl: null,
    sendAfter: new Date('2026-12-05T10:00:00Z'),
    buttons: [{ id: 'b', text: 'Open', icon: null }],
    senderId: null,
    opened: false,
    openedAt: null,
    createdAt: new Date('2026-12-05T09:59:59.123Z'),
    ...overrides,
  };
}

/** What the inbox sent before: the notification JSON per user, encoded as the event's string data. */
function expectedFrame(event: string, channel: string, notification: StoredNotification): unknown {
  return JSON.parse(encodeEvent(event, JSON.stringify(toNotificationJson(notification)), channel));
}

describe('NotificationFrames', () => {
  it("builds each user's frame and data as encoding the notification per user would (same fields and values)", () => {
    const template = row();
    const frames = new NotificationFrames('Internal Notification', template);
    for (const [userId, seq] of [['u1', 7], ['u2', 1], ['u3', 123456789]] as const) {
      const mine = { ...template, userId, seq };
      const frame = JSON.parse(frames.frame(`private-${userId}`, seq)) as { event: string; channel: string; data: string };
      const expected = expectedFrame('Internal Notification', `private-${userId}`, mine) as { data: string };
      assert.deepEqual({ ...frame, data: JSON.parse(frame.data) }, { ...expected, data: JSON.parse(expected.data) });
      assert.deepEqual(JSON.parse(frames.data(seq)), toNotificationJson(mine));
    }
  });

  it('holds for any content, payload and event name', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string()), fc.jsonValue(), fc.string({ minLength: 1 }), fc.nat(), (content, heading, payload, event, seq) => {
        const notification = row({ content, heading, payload, seq });
        const frames = new NotificationFrames(event, notification);
        const frame = JSON.parse(frames.frame('private-x', seq)) as { data: string };
        const expected = expectedFrame(event, 'private-x', notification) as { data: string };
        assert.deepEqual({ ...frame, data: JSON.parse(frame.data) }, { ...expected, data: JSON.parse(expected.data) });
      }),
      { numRuns: 300 },
    );
  });
});
