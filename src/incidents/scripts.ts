// Lua scripts: each runs atomically inside Redis, so two workers sharing one connection (or many) never
// interleave a read-modify-write. WATCH/MULTI would not do here: WATCH is per connection and ioredis
// multiplexes concurrent callers over one.

import { TERMINAL_STATUSES } from './types.js';

/** `closed(raw)`: whether an incident record (its JSON) has a terminal status. */
const CLOSED = `
local terminal = { ${TERMINAL_STATUSES.map((s) => `['${s}'] = true`).join(', ')} }
local function closed(raw) return terminal[cjson.decode(raw).status] == true end
`;

/** KEYS: record, openForHost, index, active. ARGV: id, json, openedAt. → 1 created, 0 id exists, -1 host has another open incident. */
export const CREATE_INCIDENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local other = redis.call('GET', KEYS[2])
if other and other ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
`;

/**
 * Compare-and-set of the incident record by revision. KEYS: record, openForHost, active, timeline.
 * ARGV: expectedRev, json, terminal ('1' releases the host and leaves the active set), id, then timeline entries
 * written with the record (the note of a close is part of the close, not an entry after it).
 * → 1 written, 0 revision moved on (caller re-reads and retries), -1 no such incident.
 */
export const CAS_INCIDENT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if tonumber(cjson.decode(cur).rev) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then
  if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
  redis.call('SREM', KEYS[3], ARGV[4])
end
if #ARGV > 4 then redis.call('RPUSH', KEYS[4], unpack(ARGV, 5)) end
return 1
`;

/**
 * Compare-and-set of one instance entry by revision. KEYS: instances hash, incident record.
 * ARGV: serverId, expectedRev, json, onlyOpen ('1': refused once the incident is closed).
 * → 1 written, 0 revision moved on, -1 no such entry, -2 the incident is closed.
 */
export const CAS_INSTANCE = `${CLOSED}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if ARGV[4] == '1' then
  local rec = redis.call('GET', KEYS[2])
  if not rec or closed(rec) then return -2 end
end
if tonumber(cjson.decode(cur).rev) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/**
 * Appends to an incident's list (its timeline). KEYS: record, list. ARGV: onlyOpen ('1': refused once the
 * incident is closed), then the entries. → 1 written, -2 the incident is closed (or gone).
 */
export const PUSH_ENTRIES = `${CLOSED}
if ARGV[1] == '1' then
  local rec = redis.call('GET', KEYS[1])
  if not rec or closed(rec) then return -2 end
end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 2))
return 1
`;

/**
 * Records instance entries not recorded yet (HSETNX). KEYS: record, instances hash. ARGV: onlyOpen, then
 * serverId, json pairs. → 1 done, -2 the incident is closed (or gone).
 */
export const ADD_ENTRIES = `${CLOSED}
if ARGV[1] == '1' then
  local rec = redis.call('GET', KEYS[1])
  if not rec or closed(rec) then return -2 end
end
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
`;

/** KEYS: claim. ARGV: owner, ttlMs. → 1 when the owner holds the claim (new or already its own). */
export const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** KEYS: claim. ARGV: owner. Deletes the claim only if the owner holds it. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
