/** Herald's public API for embedding a node in another program or a test. */
export { createServer, HeraldServer, type HeraldDeps } from './server.js';
export { AppRegistry, defineApp, parseAppsFile, type App } from './config/apps.js';
export { loadConfig, type ServerConfig } from './config/server-config.js';
export { LocalAdapter } from './cluster/local-adapter.js';
export { RedisAdapter, type RedisAdapterOptions } from './cluster/redis-adapter.js';
export { ClusterUnavailableError } from './cluster/adapter.js';
export type { ClusterAdapter, ClusterChange, ClusterHooks, ClusterMessage, NodeSnapshot } from './cluster/adapter.js';
export type { InboxStore, NewWebhookBatch, WebhookBatch, WebhookCounts, WebhookOutbox } from './store/store.js';
export type { WebhookOptions, WebhookStats } from './webhooks/dispatcher.js';
export { openStore } from './store/open-store.js';
export { signUserToken, type SignUserTokenOptions } from './inbox/user-tokens.js';
export { OPENED_EVENT, DELETED_EVENT } from './inbox/inbox.js';
