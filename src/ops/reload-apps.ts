/** Reloading the apps file on a running node (SIGHUP) without dropping sockets. */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseAppsFile, type App, type AppRegistry } from '../config/apps.js';
import { Errors } from '../protocol/errors.js';
import type { Realtime } from '../realtime/realtime.js';

/** What a reload changed, by app id. */
export interface AppsChange {
  readonly added: string[];
  readonly updated: string[];
  readonly removed: string[];
  readonly unchanged: string[];
}

/**
 * Swaps the node's apps. Live connections keep their sockets and see the new options at once
 * (their hub's `app` is replaced, and every check reads it from there). Sockets of an app that
 * left the file are closed with 4001 (unknown app), of an app now disabled with 4003: both tell
 * pusher-js not to reconnect. An app whose key or secret changed keeps its sockets.
 */
export function applyApps(registry: AppRegistry, realtime: Realtime, apps: readonly App[]): AppsChange {
  const previous = new Map(registry.all().map((app) => [app.id, app]));
  registry.replace(apps);
  const change: AppsChange = { added: [], updated: [], removed: [], unchanged: [] };
  for (const app of apps) {
    const old = previous.get(app.id);
    if (!old) change.added.push(app.id);
    else (JSON.stringify(old) === JSON.stringify(app) ? change.unchanged : change.updated).push(app.id);
  }
  for (const id of previous.keys()) if (!registry.findById(id)) change.removed.push(id);

  for (const id of previous.keys()) {
    const hub = realtime.hubOf(id);
    if (!hub) continue;
    const next = registry.findById(id);
    if (next) realtime.hub(next);
    if (next?.enabled) continue;
    const error = next ? Errors.appDisabled() : Errors.appNotFound('Application was removed from this cluster');
    for (const connection of [...hub.connections.values()]) connection.fail(error);
  }
  return change;
}

/**
 * Re-reads and validates the apps file, then applies it. A file that cannot be read or does not
 * validate changes nothing: the error is logged and the running apps stay. Returns whether it applied.
 */
export function reloadAppsFile(
  registry: AppRegistry,
  realtime: Realtime,
  path: string,
  logger: Logger,
  readFile: (path: string) => string = (file) => readFileSync(file, 'utf8'),
): boolean {
  let apps: App[];
  try {
    apps = parseAppsFile(readFile(path), path);
  } catch (error) {
    logger.error({ err: error, appsFile: path }, `apps file not reloaded, keeping the running apps: ${(error as Error).message}`);
    return false;
  }
  const change = applyApps(registry, realtime, apps);
  logger.info({ appsFile: path, ...change }, 'apps file reloaded');
  return true;
}
