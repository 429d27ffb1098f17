/** Socket ids: `N.N`, random and unique per server process. */
import { randomInt } from 'node:crypto';

let counter = 0;

/** A fresh socket id such as `123456789.987654321`, never repeated by this process. */
export function newSocketId(): string {
  counter = (counter + 1) % 1_000_000_000;
  return `${randomInt(1, 2 ** 31 - 1)}.${counter * 1000 + randomInt(0, 1000)}`;
}

const SOCKET_ID_PATTERN = /^\d+\.\d+$/;

/** Whether a string has the `N.N` socket id shape. */
export function isSocketId(value: unknown): value is string {
  return typeof value === 'string' && SOCKET_ID_PATTERN.test(value);
}
