/** The JSON-lines logger (pino). */
import { pino, type Logger } from 'pino';

/** A pino logger writing JSON lines to stdout at the given level. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'herald' } });
}

/** A logger that writes nothing (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export type { Logger };
