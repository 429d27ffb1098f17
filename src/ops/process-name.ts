/** A name for this process alone: host, pid and a random part, so a restart with the same pid still differs. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function uniqueProcessName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
