/**
 * The Lua scripts of the Redis adapter: every read-modify-write of shared state runs as one
 * script, so it is atomic across nodes.
 *
 * Layout under the prefix P (default `herald:`), app ids URI-encoded as `tag`:
 * - `P nodes`                     sorted set: node id -> last heartbeat (Redis server time, ms)
 * - `P epoch`                     random id written once; a new one means Redis lost its state
 * - `P node:{id}:subs`            hash ["tag","channel"] -> this node's subscriptions of the channel
 * - `P node:{id}:presence`        hash ["tag","channel","socket"] -> user id
 * - `P node:{id}:signins`         hash ["tag","user","socket"] -> user id
 * - `P app:{tag}:channels`        hash channel -> cluster-wide subscription count
 * - `P app:{tag}:members:{ch}`    hash user id -> the user's sockets in the presence channel
 * - `P app:{tag}:info:{ch}`       hash user id -> user_info JSON (from the user's first socket)
 * - `P app:{tag}:online`          hash user id -> the user's signed-in sockets
 * - `P app:{tag}:cache:{ch}`      string, the last event of a cache channel, with PX
 * - `P reaper:{id}`               lock (SET NX PX) of the node removing dead node {id}'s share
 * - `P bus`                       pub/sub channel of cluster messages
 *
 * Each node's share (`node:{id}:*`) is what lets a survivor subtract exactly what a dead node
 * had added, and lets a node re-register itself idempotently. The scripts build key names from
 * the prefix, so the adapter needs a single Redis primary (not Redis Cluster).
 */
import type { Redis } from 'ioredis';

/** Key names, shared by the TypeScript side and (in the same shape) the Lua prelude below. */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The app id as it appears in key names and share fields. */
  static tag(appId: string): string {
    return encodeURIComponent(appId);
  }

  get nodes(): string {
    return `${this.prefix}nodes`;
  }
  get bus(): string {
    return `${this.prefix}bus`;
  }
  reaper(nodeId: string): string {
    return `${this.prefix}reaper:${nodeId}`;
  }
  channels(tag: string): string {
    return `${this.prefix}app:${tag}:channels`;
  }
  info(tag: string, channel: string): string {
    return `${this.prefix}app:${tag}:info:${channel}`;
  }
  online(tag: string): string {
    return `${this.prefix}app:${tag}:online`;
  }
  cache(tag: string, channel: string): string {
    return `${this.prefix}app:${tag}:cache:${channel}`;
  }
}

/** Share fields: JSON arrays, so any user id or channel name round-trips through Lua's cjson. */
export const shareField = {
  subs: (tag: string, channel: string) => JSON.stringify([tag, channel]),
  presence: (tag: string, channel: string, socketId: string) => JSON.stringify([tag, channel, socketId]),
  signin: (tag: string, userId: string, socketId: string) => JSON.stringify([tag, userId, socketId]),
};

// Every script gets the prefix as ARGV[1] and collects the changes it reports in `changes`.
const PRELUDE = `
local P = ARGV[1]
local K_NODES = P .. 'nodes'
local K_EPOCH = P .. 'epoch'
local function k_node(node, kind) return P .. 'node:' .. node .. ':' .. kind end
local function k_channels(app) return P .. 'app:' .. app .. ':channels' end
local function k_members(app, channel) return P .. 'app:' .. app .. ':members:' .. channel end
local function k_info(app, channel) return P .. 'app:' .. app .. ':info:' .. channel end
local function k_online(app) return P .. 'app:' .. app .. ':online' end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local changes = {}

local function hash_map(key)
  local flat = redis.call('HGETALL', key)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

-- Moves a channel's cluster-wide subscription count; returns the count after.
local function count_by(app, channel, delta, report)
  local key = k_channels(app)
  local total = redis.call('HINCRBY', key, channel, delta)
  if total <= 0 then
    redis.call('HDEL', key, channel)
    total = 0
  end
  if report then changes[#changes + 1] = {'count', app, channel, total} end
  return total
end

-- One more socket of a user in a presence channel; true on the user's first.
local function member_in(app, channel, user, info, report)
  if redis.call('HINCRBY', k_members(app, channel), user, 1) ~= 1 then return false end
  redis.call('HSET', k_info(app, channel), user, info)
  if report then changes[#changes + 1] = {'member', app, channel, user, 1, info} end
  return true
end

-- One socket less; true when it was the user's last.
local function member_out(app, channel, user, report)
  local key = k_members(app, channel)
  local n = redis.call('HINCRBY', key, user, -1)
  if n > 0 then return false end
  redis.call('HDEL', key, user)
  redis.call('HDEL', k_info(app, channel), user)
  if n < 0 then return false end
  if report then changes[#changes + 1] = {'member', app, channel, user, 0, ''} end
  return true
end

local function user_in(app, user, report)
  if redis.call('HINCRBY', k_online(app), user, 1) ~= 1 then return false end
  if report then changes[#changes + 1] = {'user', app, user, 1} end
  return true
end

local function user_out(app, user, report)
  local key = k_online(app)
  local n = redis.call('HINCRBY', key, user, -1)
  if n > 0 then return false end
  redis.call('HDEL', key, user)
  if n < 0 then return false end
  if report then changes[#changes + 1] = {'user', app, user, 0} end
  return true
end
`;

const SCRIPTS = {
  // ARGV: P, node, app, channel, field, delta. Returns the cluster-wide count after.
  heraldSubscriptions: `
local key = k_node(ARGV[2], 'subs')
local mine = tonumber(redis.call('HGET', key, ARGV[5]) or '0')
local delta = tonumber(ARGV[6])
-- Never take away more than this node put in (its share may have been reaped meanwhile).
if mine + delta < 0 then delta = -mine end
if delta == 0 then return tonumber(redis.call('HGET', k_channels(ARGV[3]), ARGV[4]) or '0') end
mine = mine + delta
if mine > 0 then redis.call('HSET', key, ARGV[5], mine) else redis.call('HDEL', key, ARGV[5]) end
return count_by(ARGV[3], ARGV[4], delta, false)
`,
  // ARGV: P, node, app, channel, field, user, info. Returns 1 on the user's first socket.
  heraldPresenceJoin: `
if redis.call('HSETNX', k_node(ARGV[2], 'presence'), ARGV[5], ARGV[6]) == 0 then return 0 end
if member_in(ARGV[3], ARGV[4], ARGV[6], ARGV[7], false) then return 1 end
return 0
`,
  // ARGV: P, node, app, channel, field, user. Returns 1 when it was the user's last socket.
  heraldPresenceLeave: `
if redis.call('HDEL', k_node(ARGV[2], 'presence'), ARGV[5]) == 0 then return 0 end
if member_out(ARGV[3], ARGV[4], ARGV[6], false) then return 1 end
return 0
`,
  // ARGV: P, node, app, field, user. Returns 1 on the user's first signed-in socket.
  heraldSignIn: `
if redis.call('HSETNX', k_node(ARGV[2], 'signins'), ARGV[4], ARGV[5]) == 0 then return 0 end
if user_in(ARGV[3], ARGV[5], false) then return 1 end
return 0
`,
  // ARGV: P, node, app, field, user. Returns 1 when it was the user's last signed-in socket.
  heraldSignOut: `
if redis.call('HDEL', k_node(ARGV[2], 'signins'), ARGV[4]) == 0 then return 0 end
if user_out(ARGV[3], ARGV[5], false) then return 1 end
return 0
`,
  // ARGV: P, app. Returns [channel, subscriptions, users, ...].
  heraldChannels: `
local flat = redis.call('HGETALL', k_channels(ARGV[2]))
local out = {}
for i = 1, #flat, 2 do
  out[#out + 1] = flat[i]
  out[#out + 1] = tonumber(flat[i + 1])
  out[#out + 1] = redis.call('HLEN', k_members(ARGV[2], flat[i]))
end
return out
`,
  // ARGV: P, app, channel. Returns [subscriptions, users].
  heraldChannelStats: `
return { tonumber(redis.call('HGET', k_channels(ARGV[2]), ARGV[3]) or '0'), redis.call('HLEN', k_members(ARGV[2], ARGV[3])) }
`,
  // ARGV: P, key. Returns [value, pttl] or nil.
  heraldCacheGet: `
local value = redis.call('GET', ARGV[2])
if not value then return nil end
return { value, redis.call('PTTL', ARGV[2]) }
`,
  // ARGV: P, node, expiry ms. Refreshes the heartbeat; returns 1 when the node was missing or
  // stale (reaped, or Redis lost its state) and must re-register its share.
  heraldHeartbeat: `
local now = now_ms()
local last = redis.call('ZSCORE', K_NODES, ARGV[2])
redis.call('ZADD', K_NODES, now, ARGV[2])
if (not last) or now - tonumber(last) > tonumber(ARGV[3]) then return 1 end
return 0
`,
  // ARGV: P, expiry ms. Returns up to 16 node ids silent for longer than the expiry.
  heraldDeadNodes: `
return redis.call('ZRANGEBYSCORE', K_NODES, '-inf', now_ms() - tonumber(ARGV[2]), 'LIMIT', 0, 16)
`,
  // ARGV: P, node, epoch candidate, share JSON {s:[[field,app,channel,count]], p:[[field,app,channel,user,info]], u:[[field,app,user]]}.
  // Makes the node's share equal to the given one, adjusting the cluster-wide state by the
  // difference. Returns JSON [epoch, changes].
  heraldRegister: `
local node = ARGV[2]
local epoch = redis.call('GET', K_EPOCH)
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', K_EPOCH, epoch)
end
redis.call('ZADD', K_NODES, now_ms(), node)
local share = cjson.decode(ARGV[4])

local key = k_node(node, 'subs')
local old = hash_map(key)
local seen = {}
for _, e in ipairs(share.s) do
  seen[e[1]] = true
  local delta = e[4] - (tonumber(old[e[1]]) or 0)
  if delta ~= 0 then
    redis.call('HSET', key, e[1], e[4])
    count_by(e[2], e[3], delta, true)
  end
end
for field, value in pairs(old) do
  if not seen[field] then
    local f = cjson.decode(field)
    redis.call('HDEL', key, field)
    count_by(f[1], f[2], -tonumber(value), true)
  end
end

key = k_node(node, 'presence')
old = hash_map(key)
seen = {}
for _, e in ipairs(share.p) do
  seen[e[1]] = true
  if not old[e[1]] then
    redis.call('HSET', key, e[1], e[4])
    member_in(e[2], e[3], e[4], e[5], true)
  end
end
for field, user in pairs(old) do
  if not seen[field] then
    local f = cjson.decode(field)
    redis.call('HDEL', key, field)
    member_out(f[1], f[2], user, true)
  end
end

key = k_node(node, 'signins')
old = hash_map(key)
seen = {}
for _, e in ipairs(share.u) do
  seen[e[1]] = true
  if not old[e[1]] then
    redis.call('HSET', key, e[1], e[3])
    user_in(e[2], e[3], true)
  end
end
for field, user in pairs(old) do
  if not seen[field] then
    local f = cjson.decode(field)
    redis.call('HDEL', key, field)
    user_out(f[1], user, true)
  end
end
return cjson.encode({ epoch, changes })
`,
  // ARGV: P, node, expiry ms, batch size, force ('1' for a node removing its own share).
  // Removes up to a batch of a dead node's share. Returns JSON [state, changes], state being
  // 'alive' (the node came back: stop), 'more' or 'done' (share gone, node forgotten).
  heraldReap: `
local node = ARGV[2]
if ARGV[5] ~= '1' then
  local last = redis.call('ZSCORE', K_NODES, node)
  if last and now_ms() - tonumber(last) <= tonumber(ARGV[3]) then return cjson.encode({ 'alive', changes }) end
end
local budget = tonumber(ARGV[4])
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
for i = 1, #flat, 2 do
  local f = cjson.decode(flat[i])
  count_by(f[1], f[2], -tonumber(flat[i + 1]), true)
end
flat = take('presence')
for i = 1, #flat, 2 do
  local f = cjson.decode(flat[i])
  member_out(f[1], f[2], flat[i + 1], true)
end
flat = take('signins')
for i = 1, #flat, 2 do
  local f = cjson.decode(flat[i])
  user_out(f[1], flat[i + 1], true)
end
if redis.call('EXISTS', k_node(node, 'subs'), k_node(node, 'presence'), k_node(node, 'signins')) == 0 then
  redis.call('ZREM', K_NODES, node)
  return cjson.encode({ 'done', changes })
end
return cjson.encode({ 'more', changes })
`,
  // ARGV: P, lock key, owner. Deletes the lock only if this node still holds it.
  heraldUnlock: `
if redis.call('GET', ARGV[2]) == ARGV[3] then return redis.call('DEL', ARGV[2]) end
return 0
`,
} as const;

/** The name of one script. */
export type ScriptName = keyof typeof SCRIPTS;

/** Registers every script on a connection (`EVALSHA`, loading it on first use per socket). */
export function defineScripts(redis: Redis): void {
  for (const [name, body] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua: PRELUDE + body });
}

type ScriptFunction = (...args: (string | number)[]) => Promise<unknown>;

/** Runs a script defined by `defineScripts`; `args` follow the prefix (ARGV[2] onwards). */
export function runScript(redis: Redis, prefix: string, name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
  const run = (redis as unknown as Record<ScriptName, ScriptFunction>)[name];
  return run.call(redis, prefix, ...args);
}
