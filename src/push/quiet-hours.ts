/**
 * Quiet hours in a user's IANA time zone (`Intl`), DST-correct: whether an instant falls inside,
 * and the first instant after it that does not. Pure.
 */

/** A daily window of local wall-clock time; `start` after `end` spans midnight. */
export interface QuietHours {
  /** IANA time zone, e.g. `Europe/Berlin`. */
  readonly tz: string;
  /** `HH:MM`, 24-hour. */
  readonly start: string;
  readonly end: string;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Whether `tz` is a time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Whether `text` is `HH:MM`. */
export function isWallTime(text: string): boolean {
  return TIME.test(text);
}

function minutesOf(text: string): number {
  const match = TIME.exec(text);
  if (!match) throw new Error(`not a HH:MM time: ${text}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

function formatter(tz: string): Intl.DateTimeFormat {
  let format = formatters.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, format);
  }
  return format;
}

/** The wall clock of `ms` in `tz`, as if it were UTC (epoch ms of the same calendar fields). */
function wallClock(ms: number, tz: string): number {
  const fields: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second);
}

/** The zone's offset at `ms` (wall clock minus UTC), whole seconds. */
function offsetAt(ms: number, tz: string): number {
  const seconds = Math.floor(ms / 1000) * 1000;
  return wallClock(seconds, tz) - seconds;
}

/** Whether `at` falls inside the window (an empty window, start = end, never does). */
export function inQuietHours(at: number, quiet: QuietHours): boolean {
  const wall = wallClock(at, quiet.tz);
  const minute = Math.floor((((wall % DAY) + DAY) % DAY) / MINUTE);
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * The first instant at or after which local time reaches `wall` (epoch ms of wall-clock fields):
 * where the wall time happens twice (clocks going back) the first; where it does not happen
 * (clocks going forward over it) the moment of the change.
 */
function instantOfWall(wall: number, tz: string): number {
  const before = offsetAt(wall - DAY, tz);
  const after = offsetAt(wall + DAY, tz);
  const candidates = [wall - before, wall - after].filter((t) => wallClock(t, tz) === wall).sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0];
  // A gap: the change lies between the two readings; find it to the second.
  let lo = Math.min(wall - before, wall - after);
  let hi = Math.max(wall - before, wall - after);
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (offsetAt(mid, tz) === offsetAt(lo, tz)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The end of the quiet hours `at` is in (the first instant after it outside them); `at` itself when outside. */
export function quietHoursEnd(at: number, quiet: QuietHours): number {
  if (!inQuietHours(at, quiet)) return at;
  const wall = wallClock(at, quiet.tz);
  const midnight = wall - (((wall % DAY) + DAY) % DAY);
  const end = minutesOf(quiet.end) * MINUTE;
  for (let day = 0; day <= 2; day++) {
    const instant = instantOfWall(midnight + day * DAY + end, quiet.tz);
    if (instant > at && !inQuietHours(instant, quiet)) return instant;
  }
  // Unreachable for a valid window: its end comes within two days.
  return at + DAY;
}
