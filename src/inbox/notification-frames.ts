/**
 * The live event of one notification for many users, serialised once. A push to 10,000 users
 * stores the same notification for each; only the channel and `seq` differ. So the notification
 * JSON is written once with `seq` as its last field, escaped once as the event's string `data`,
 * and each user's frame is that text with the channel and the seq spliced in: no object, ISO date
 * or JSON encoding per user.
 */
import type { StoredNotification } from '../store/store.js';
import { toNotificationJson } from './notification-json.js';

/** The frames and data of one notification (any of its per-user rows). */
export class NotificationFrames {
  /** `{"event":"<name>","channel":` */
  private readonly frameStart: string;
  /** The data JSON up to the value of `seq`: `{"id":…,"seq":`. */
  private readonly dataHead: string;
  /** The same, escaped as a JSON string without its closing quote: `"{\"id\":…,\"seq\":`. */
  private readonly escapedDataHead: string;

  constructor(eventName: string, row: StoredNotification) {
    this.frameStart = `{"event":${JSON.stringify(eventName)},"channel":`;
    const { seq: _seq, ...rest } = toNotificationJson(row);
    const json = JSON.stringify(rest);
    this.dataHead = `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"seq":`;
    const escaped = JSON.stringify(this.dataHead);
    this.escapedDataHead = escaped.slice(0, -1);
  }

  /** The event's data for one user's row: the notification JSON, as `JSON.stringify(toNotificationJson(row))` has it (seq last). */
  data(seq: number | null): string {
    return `${this.dataHead}${seq}}`;
  }

  /** The whole event frame on a channel, as `encodeEvent(event, data, channel)` writes it. */
  frame(channel: string, seq: number | null): string {
    return `${this.frameStart}${JSON.stringify(channel)},"data":${this.escapedDataHead}${seq}}"}`;
  }
}
