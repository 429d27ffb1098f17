/** Opens the inbox store named by a database URL. */
import { ConfigError } from '../config/apps.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { InboxStore } from './store.js';

/** `sqlite:PATH` (or a bare path) opens the embedded SQLite store. */
export function openStore(url: string): InboxStore {
  if (url.startsWith('sqlite:')) return SqliteStore.open(url.slice('sqlite:'.length));
  if (!url.includes('://')) return SqliteStore.open(url);
  throw new ConfigError(`HERALD_DATABASE_URL: unsupported database URL "${url.split(':')[0]}:": use sqlite:PATH`);
}
