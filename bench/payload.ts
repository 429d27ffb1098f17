/**
 * The data of a benchmark event: `B|<seq>|<sent at, ms>|xxx…`, padded to a fixed size. Plain ASCII
 * with nothing to escape, so every server carries it verbatim in the `data` string of the event
 * and the receiver finds it with `indexOf` instead of two `JSON.parse`s.
 */

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes of one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const MARK = 'B|';

/** Builds the data string of event `seq` of a channel, sent at `sentAt`, padded to `size` bytes. */
export function encodePayload(seq: number, sentAt: number, size: number): string {
  const head = `${MARK}${seq}|${sentAt.toFixed(3)}|`;
  return head.length >= size ? head : head + 'x'.repeat(size - head.length);
}

/** The fields of a received benchmark event; reused by `readPayload` so reading allocates nothing. */
export interface PayloadFields {
  seq: number;
  sentAt: number;
}

/** Reads a benchmark event out of a received frame's text into `into`; false if it holds none. */
export function readPayload(text: string, into: PayloadFields): boolean {
  const start = text.indexOf(MARK);
  if (start === -1) return false;
  const seqEnd = text.indexOf('|', start + 2);
  if (seqEnd === -1) return false;
  const sentEnd = text.indexOf('|', seqEnd + 1);
  if (sentEnd === -1) return false;
  into.seq = Number(text.slice(start + 2, seqEnd));
  into.sentAt = Number(text.slice(seqEnd + 1, sentEnd));
  return Number.isFinite(into.seq) && Number.isFinite(into.sentAt);
}
