/**
 * The Lua scripts of the Redis adapter: every read-modify-write of shared state runs as one
 * script, so it is atomic across nodes.
 *
 * Keys carry Redis Cluster hash tags, so every script touches one slot: the state of one app
 * lives under `P{a:TAG}:` (app id URI-encoded as TAG), the node registry under `P{cluster}:`.
 * Each script gets that key base as KEYS[1] (Redis Cluster routes by it) and builds the rest
 * from it. Under the app base B:
 * - `B channels`              hash channel -> cluster-wide subscription count
 * - `B members:{ch}`          hash user id -> the user's sockets in the presence channel
 * - `B info:{ch}`             hash user id -> user_info JSON (from the user's first socket)
 * - `B online`                hash user id -> the user's signed-in sockets
 * - `B cache:{ch}`            string, the last event of a cache channel, with PX
 * - `B epoch`                 random id written once; a new one means Redis lost this app's state
 * - `B node:{id}:subs`        hash channel -> this node's subscriptions of the channel
 * - `B node:{id}:presence`    hash ["channel","socket"] -> user id
 * - `B node:{id}:signins`     hash ["user","socket"] -> user id
 * Under the cluster base G:
 * - `G nodes`                 sorted set: node id -> last heartbeat (Redis server time, ms)
 * - `G resumed`               hash node id -> when its heartbeats last resumed after a late one or a (re-)registration
 * - `G apps`                  set of app tags some node has a share in (where reapers look)
 * - `G reaper:{id}`           lock (SET NX PX) of the node removing dead node {id}'s share
 * - `G reaped:{id}`           set when node {id}'s share was (partly) removed although it lives: it re-registers
 *
 * Each node's share (`node:{id}:*`, per app) is what lets a survivor subtract exactly what a
 * dead node had added, and lets a node re-register itself idempotently.
 */
import type { Cluster, Redis } from 'ioredis';

/** A connection that runs commands: one Redis, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Key names and pub/sub channel names. */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The app id as it appears in key names. */
  static tag(appId: string): string {
    return encodeURIComponent(appId);
  }

  /** KEYS[1] of the node-registry scripts. */
  get cluster(): string {
    return `${this.prefix}{cluster}:`;
  }
  /** KEYS[1] of an app's scripts: every key of the app starts with it (one hash slot). */
  app(tag: string): string {
    return `${this.prefix}{a:${tag}}:`;
  }
  reaper(nodeId: string): string {
    return `${this.cluster}reaper:${nodeId}`;
  }
  info(tag: string, channel: string): string {
    return `${this.app(tag)}info:${channel}`;
  }
  online(tag: string): string {
    return `${this.app(tag)}online`;
  }
  cache(tag: string, channel: string): string {
    return `${this.app(tag)}cache:${channel}`;
  }
  /** The sharded pub/sub channel of a channel's events: its own hash slot. */
  channelTopic(tag: string, channel: string): string {
    return `${this.prefix}c:{${tag}:${channel}}`;
  }
  /** The sharded pub/sub channel of the messages for a user (terminate, watchlist). */
  userTopic(tag: string, userId: string): string {
    return `${this.prefix}u:{${tag}:${encodeURIComponent(userId)}}`;
  }
}

/** Share fields (within an app): JSON arrays, so any user id or channel name round-trips through Lua's cjson. */
export const shareField = {
  presence: (channel: string, socketId: string) => JSON.stringify([channel, socketId]),
  signin: (userId: string, socketId: string) => JSON.stringify([userId, socketId]),
};

// Every app script gets its key base as KEYS[1] and collects the changes it reports in `changes`.
const APP_PRELUDE = `
local B = KEYS[1]
local K_CHANNELS = B .. 'channels'
local K_ONLINE = B .. 'online'
local K_EPOCH = B .. 'epoch'
local function k_node(node, kind) return B .. 'node:' .. node .. ':' .. kind end
local function k_members(channel) return B .. 'members:' .. channel end
local function k_info(channel) return B .. 'info:' .. channel end

local changes = {}

local function hash_map(key)
  local flat = redis.call('HGETALL', key)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

-- Moves a channel's cluster-wide subscription count; returns the count after.
local function count_by(channel, delta, report)
  local total = redis.call('HINCRBY', K_CHANNELS, channel, delta)
  if total <= 0 then
    redis.call('HDEL', K_CHANNELS, channel)
    total = 0
  end
  if report then changes[#changes + 1] = {'count', channel, total} end
  return total
end

-- One more socket of a user in a presence channel; true on the user's first.
local function member_in(channel, user, info, report)
  if redis.call('HINCRBY', k_members(channel), user, 1) ~= 1 then return false end
  redis.call('HSET', k_info(channel), user, info)
  if report then changes[#changes + 1] = {'member', channel, user, 1, info} end
  return true
end

-- One socket less; true when it was the user's last.
local function member_out(channel, user, report)
  local key = k_members(channel)
  local n = redis.call('HINCRBY', key, user, -1)
  if n > 0 then return false end
  redis.call('HDEL', key, user)
  redis.call('HDEL', k_info(channel), user)
  if n < 0 then return false end
  if report then changes[#changes + 1] = {'member', channel, user, 0, ''} end
  return true
end

local function user_in(user, report)
  if redis.call('HINCRBY', K_ONLINE, user, 1) ~= 1 then return false end
  if report then changes[#changes + 1] = {'user', user, 1} end
  return true
end

local function user_out(user, report)
  local n = redis.call('HINCRBY', K_ONLINE, user, -1)
  if n > 0 then return false end
  redis.call('HDEL', K_ONLINE, user)
  if n < 0 then return false end
  if report then changes[#changes + 1] = {'user', user, 0} end
  return true
end
`;

const CLUSTER_PRELUDE = `
local G = KEYS[1]
local K_NODES = G .. 'nodes'
local K_RESUMED = G .. 'resumed'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const APP_SCRIPTS = {
  // ARGV: node, channel, delta. Returns the cluster-wide count after.
  heraldSubscriptions: `
local key = k_node(ARGV[1], 'subs')
local mine = tonumber(redis.call('HGET', key, ARGV[2]) or '0')
local delta = tonumber(ARGV[3])
-- Never take away more than this node put in (its share may have been reaped meanwhile).
if mine + delta < 0 then delta = -mine end
if delta == 0 then return tonumber(redis.call('HGET', K_CHANNELS, ARGV[2]) or '0') end
mine = mine + delta
if mine > 0 then redis.call('HSET', key, ARGV[2], mine) else redis.call('HDEL', key, ARGV[2]) end
return count_by(ARGV[2], delta, false)
`,
  // ARGV: node, channel, field, user, info. Returns 1 on the user's first socket.
  heraldPresenceJoin: `
if redis.call('HSETNX', k_node(ARGV[1], 'presence'), ARGV[3], ARGV[4]) == 0 then return 0 end
if member_in(ARGV[2], ARGV[4], ARGV[5], false) then return 1 end
return 0
`,
  // ARGV: node, channel, field, user. Returns 1 when it was the user's last socket.
  heraldPresenceLeave: `
if redis.call('HDEL', k_node(ARGV[1], 'presence'), ARGV[3]) == 0 then return 0 end
if member_out(ARGV[2], ARGV[4], false) then return 1 end
return 0
`,
  // ARGV: node, field, user. Returns 1 on the user's first signed-in socket.
  heraldSignIn: `
if redis.call('HSETNX', k_node(ARGV[1], 'signins'), ARGV[2], ARGV[3]) == 0 then return 0 end
if user_in(ARGV[3], false) then return 1 end
return 0
`,
  // ARGV: node, field, user. Returns 1 when it was the user's last signed-in socket.
  heraldSignOut: `
if redis.call('HDEL', k_node(ARGV[1], 'signins'), ARGV[2]) == 0 then return 0 end
if user_out(ARGV[3], false) then return 1 end
return 0
`,
  // No ARGV. Returns [channel, subscriptions, users, ...].
  heraldChannels: `
local flat = redis.call('HGETALL', K_CHANNELS)
local out = {}
for i = 1, #flat, 2 do
  out[#out + 1] = flat[i]
  out[#out + 1] = tonumber(flat[i + 1])
  out[#out + 1] = redis.call('HLEN', k_members(flat[i]))
end
return out
`,
  // ARGV: channel. Returns [subscriptions, users].
  heraldChannelStats: `
return { tonumber(redis.call('HGET', K_CHANNELS, ARGV[1]) or '0'), redis.call('HLEN', k_members(ARGV[1])) }
`,
  // ARGV: channel. Returns [value, pttl] or nil.
  heraldCacheGet: `
local key = B .. 'cache:' .. ARGV[1]
local value = redis.call('GET', key)
if not value then return nil end
return { value, redis.call('PTTL', key) }
`,
  // ARGV: epoch candidate. Returns the app's epoch, writing the candidate when it has none.
  heraldEpoch: `
local epoch = redis.call('GET', K_EPOCH)
if epoch then return epoch end
redis.call('SET', K_EPOCH, ARGV[1])
return ARGV[1]
`,
  // ARGV: epoch. Returns 1 when the app's epoch is not that one (its state was lost, or never registered).
  heraldEpochChanged: `
if redis.call('GET', K_EPOCH) == ARGV[1] then return 0 end
return 1
`,
  // ARGV: node, epoch candidate, share JSON {s:[[channel,count]], p:[[field,channel,user,info]], u:[[field,user]]}.
  // Makes the node's share of this app equal to the given one, adjusting the cluster-wide state
  // by the difference. Returns JSON [epoch, changes].
  heraldRegister: `
local node = ARGV[1]
local epoch = redis.call('GET', K_EPOCH)
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', K_EPOCH, epoch)
end
local share = cjson.decode(ARGV[3])

local key = k_node(node, 'subs')
local old = hash_map(key)
local seen = {}
for _, e in ipairs(share.s) do
  seen[e[1]] = true
  local delta = e[2] - (tonumber(old[e[1]]) or 0)
  if delta ~= 0 then
    redis.call('HSET', key, e[1], e[2])
    count_by(e[1], delta, true)
  end
end
for field, value in pairs(old) do
  if not seen[field] then
    redis.call('HDEL', key, field)
    count_by(field, -tonumber(value), true)
  end
end

key = k_node(node, 'presence')
old = hash_map(key)
seen = {}
for _, e in ipairs(share.p) do
  seen[e[1]] = true
  if not old[e[1]] then
    redis.call('HSET', key, e[1], e[3])
    member_in(e[2], e[3], e[4], true)
  end
end
for field, user in pairs(old) do
  if not seen[field] then
    local f = cjson.decode(field)
    redis.call('HDEL', key, field)
    member_out(f[1], user, true)
  end
end

key = k_node(node, 'signins')
old = hash_map(key)
seen = {}
for _, e in ipairs(share.u) do
  seen[e[1]] = true
  if not old[e[1]] then
    redis.call('HSET', key, e[1], e[2])
    user_in(e[2], true)
  end
end
for field, user in pairs(old) do
  if not seen[field] then
    redis.call('HDEL', key, field)
    user_out(user, true)
  end
end
return cjson.encode({ epoch, changes })
`,
  // ARGV: node, batch size. Removes up to a batch of a node's share of this app. Returns JSON
  // [state, changes], state being 'more' or 'done' (nothing of the node left in this app).
  heraldReap: `
local node = ARGV[1]
local budget = tonumber(ARGV[2])
local function take(kind)
  if budget <= 0 then return {} end
  local flat = redis.call('HRANDFIELD', k_node(node, kind), budget, 'WITHVALUES')
  budget = budget - #flat / 2
  if #flat > 0 then
    local fields = {}
    for i = 1, #flat, 2 do fields[#fields + 1] = flat[i] end
    redis.call('HDEL', k_node(node, kind), unpack(fields))
  end
  return flat
end
local flat = take('subs')
for i = 1, #flat, 2 do count_by(flat[i], -tonumber(flat[i + 1]), true) end
flat = take('presence')
for i = 1, #flat, 2 do
  local f = cjson.decode(flat[i])
  member_out(f[1], flat[i + 1], true)
end
flat = take('signins')
for i = 1, #flat, 2 do user_out(flat[i + 1], true) end
if redis.call('EXISTS', k_node(node, 'subs'), k_node(node, 'presence'), k_node(node, 'signins')) == 0 then
  return cjson.encode({ 'done', changes })
end
return cjson.encode({ 'more', changes })
`,
} as const;

const CLUSTER_SCRIPTS = {
  // ARGV: node, app tags... Records the node as alive and the apps it has a share in.
  heraldJoin: `
local now = now_ms()
redis.call('ZADD', K_NODES, now, ARGV[1])
redis.call('HSET', K_RESUMED, ARGV[1], now)
redis.call('DEL', G .. 'reaped:' .. ARGV[1])
if #ARGV > 1 then redis.call('SADD', G .. 'apps', unpack(ARGV, 2)) end
return 1
`,
  // ARGV: app tag. Records that some node has a share in this app.
  heraldApp: `
return redis.call('SADD', G .. 'apps', ARGV[1])
`,
  // No ARGV. The app tags with shares.
  heraldApps: `
return redis.call('SMEMBERS', G .. 'apps')
`,
  // ARGV: node, expiry ms, late ms. Refreshes the heartbeat (one more than late ms after the last
  // restarts the node's unbroken run); returns 1 when the node must re-register its share: it was
  // missing or stale (reaped, or Redis lost its state), or a reaper took part of it.
  heraldHeartbeat: `
local now = now_ms()
local last = redis.call('ZSCORE', K_NODES, ARGV[1])
redis.call('ZADD', K_NODES, now, ARGV[1])
if (not last) or now - tonumber(last) > tonumber(ARGV[3]) or redis.call('HEXISTS', K_RESUMED, ARGV[1]) == 0 then
  redis.call('HSET', K_RESUMED, ARGV[1], now)
end
local reaped = redis.call('DEL', G .. 'reaped:' .. ARGV[1])
if (not last) or now - tonumber(last) > tonumber(ARGV[2]) or reaped == 1 then return 1 end
return 0
`,
  // ARGV: reaper node, expiry ms, late ms. Returns up to 16 node ids silent for longer than the
  // expiry, or none unless the reaper's own heartbeats are on time and have been for the expiry:
  // whatever held the reaper's commands (a Redis Cluster failover, a paused Redis) held the other
  // nodes' heartbeats too, so their silence counts only from when the reaper's own resumed.
  heraldDeadNodes: `
local now = now_ms()
local expiry = tonumber(ARGV[2])
local last = redis.call('ZSCORE', K_NODES, ARGV[1])
local resumed = redis.call('HGET', K_RESUMED, ARGV[1])
if (not last) or (not resumed) or now - tonumber(last) > tonumber(ARGV[3]) or now - tonumber(resumed) <= expiry then return {} end
return redis.call('ZRANGEBYSCORE', K_NODES, '-inf', now - expiry, 'LIMIT', 0, 16)
`,
  // ARGV: node, expiry ms. Returns 1 while the node heartbeats.
  heraldAlive: `
local last = redis.call('ZSCORE', K_NODES, ARGV[1])
if last and now_ms() - tonumber(last) <= tonumber(ARGV[2]) then return 1 end
return 0
`,
  // ARGV: node, expiry ms, force. After its share was removed: forgets a dead node (or, with
  // force, a node leaving), returning 1; a node that came back meanwhile is told to re-register.
  heraldForget: `
local last = redis.call('ZSCORE', K_NODES, ARGV[1])
if ARGV[3] == '1' or (not last) or now_ms() - tonumber(last) > tonumber(ARGV[2]) then
  redis.call('ZREM', K_NODES, ARGV[1])
  redis.call('HDEL', K_RESUMED, ARGV[1])
  return 1
end
redis.call('SET', G .. 'reaped:' .. ARGV[1], '1', 'PX', tonumber(ARGV[2]) * 4)
return 0
`,
  // ARGV: owner (KEYS[1] is the lock). Deletes the lock only if this node still holds it.
  heraldUnlock: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
} as const;

/** The name of a script on an app's state. */
export type AppScript = keyof typeof APP_SCRIPTS;
/** The name of a script on the node registry. */
export type ClusterScript = keyof typeof CLUSTER_SCRIPTS;

/** Registers every script on a client (`EVALSHA` with one key, loading it on first use per connection). */
export function defineScripts(redis: RedisClient): void {
  for (const [name, body] of Object.entries(APP_SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 1, lua: APP_PRELUDE + body });
  for (const [name, body] of Object.entries(CLUSTER_SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys: 1, lua: (name === 'heraldUnlock' ? '' : CLUSTER_PRELUDE) + body });
  }
}

type ScriptFunction = (...args: (string | number)[]) => Promise<unknown>;

/** Runs a script defined by `defineScripts` with its key (the base, or the lock) and its ARGV. */
export function runScript(redis: RedisClient, name: AppScript | ClusterScript, key: string, ...args: (string | number)[]): Promise<unknown> {
  const run = (redis as unknown as Record<string, ScriptFunction>)[name];
  return run.call(redis, key, ...args);
}
