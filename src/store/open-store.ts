/** Opens the inbox store named by a database URL. */
import { ConfigError } from '../config/apps.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { DatabaseTimeouts, InboxStore } from './store.js';

/** `postgres://` or `postgresql://` URLs name a PostgreSQL database (shared by a cluster). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * `sqlite:PATH` (or a bare path) opens the embedded SQLite store; `postgres://…` the PostgreSQL
 * store, whose waits on the database are bounded by `timeouts`.
 */
export function openStore(url: string, timeouts?: Partial<DatabaseTimeouts>): InboxStore {
  if (url.startsWith('sqlite:')) return SqliteStore.open(url.slice('sqlite:'.length));
  if (isPostgresUrl(url)) return PostgresStore.connect(url, { timeouts });
  if (!url.includes('://')) return SqliteStore.open(url);
  throw new ConfigError(`HERALD_DATABASE_URL: unsupported database URL "${url.split(':')[0]}:": use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE`);
}
