/**
 * Lua scripts of the NodePort allocator. Redis runs each atomically, so two allocators (any
 * number of processes) can never hand out one port twice, and a process that dies mid-call
 * leaves either a whole lease or nothing.
 *
 * Keys: 1 leases (ZSET port -> lease expiry, ms), 2 owners (HASH port -> lab),
 *       3 byLab (HASH lab -> port), 4 blocked (ZSET port -> blocked until, ms),
 *       5 since (HASH port -> allocated at, ms)
 */

/** Drops expired leases and expired blocks; shared by every script. */
const PURGE = `
local function purge(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for _, port in ipairs(expired) do
    local lab = redis.call('HGET', KEYS[2], port)
    if lab then redis.call('HDEL', KEYS[3], lab) end
    redis.call('HDEL', KEYS[2], port)
    redis.call('HDEL', KEYS[5], port)
    redis.call('ZREM', KEYS[1], port)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
end
`;

/**
 * ARGV: lab, now, leaseMs, first, last, offset. Returns the port, or -1 when the range is full.
 * Idempotent per lab: a lab that holds a port gets the same port back, its lease renewed.
 */
export const ALLOCATE = `${PURGE}
local lab, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local first, last, offset = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
purge(now)
local held = redis.call('HGET', KEYS[3], lab)
if held then
  redis.call('ZADD', KEYS[1], now + lease, held)
  return tonumber(held)
end
local size = last - first + 1
for i = 0, size - 1 do
  local port = tostring(first + (offset + i) % size)
  if not redis.call('ZSCORE', KEYS[1], port) and not redis.call('ZSCORE', KEYS[4], port) then
    redis.call('ZADD', KEYS[1], now + lease, port)
    redis.call('HSET', KEYS[2], port, lab)
    redis.call('HSET', KEYS[3], lab, port)
    redis.call('HSET', KEYS[5], port, now)
    return tonumber(port)
  end
end
return -1
`;

/** ARGV: lab, now, leaseMs. Returns the port whose lease was extended, or -1 if the lab holds none. */
export const RENEW = `${PURGE}
local lab, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
purge(now)
local held = redis.call('HGET', KEYS[3], lab)
if not held then return -1 end
redis.call('ZADD', KEYS[1], now + lease, held)
return tonumber(held)
`;

/** ARGV: lab. Returns the port released, or -1 if the lab held none. */
export const RELEASE = `
local held = redis.call('HGET', KEYS[3], ARGV[1])
if not held then return -1 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], held)
redis.call('HDEL', KEYS[5], held)
redis.call('ZREM', KEYS[1], held)
return tonumber(held)
`;

/**
 * ARGV: lab, port, now, leaseMs. Records that `lab` owns `port` (its Service exists): takes the
 * port from whoever held it in Redis, and drops any other port the lab held.
 */
export const ADOPT = `
local lab, port, now, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local previous = redis.call('HGET', KEYS[3], lab)
if previous and previous ~= port then
  redis.call('HDEL', KEYS[2], previous)
  redis.call('HDEL', KEYS[5], previous)
  redis.call('ZREM', KEYS[1], previous)
end
local holder = redis.call('HGET', KEYS[2], port)
if holder and holder ~= lab then redis.call('HDEL', KEYS[3], holder) end
redis.call('ZADD', KEYS[1], now + lease, port)
redis.call('HSET', KEYS[2], port, lab)
redis.call('HSET', KEYS[3], lab, port)
if not redis.call('HGET', KEYS[5], port) then redis.call('HSET', KEYS[5], port, now) end
redis.call('ZREM', KEYS[4], port)
return 1
`;

/** ARGV: port, expires. Marks a port taken outside breakfix (skipped until `expires`), dropping any lease on it. */
export const BLOCK = `
local port, expires = ARGV[1], tonumber(ARGV[2])
local holder = redis.call('HGET', KEYS[2], port)
if holder then redis.call('HDEL', KEYS[3], holder) end
redis.call('HDEL', KEYS[2], port)
redis.call('HDEL', KEYS[5], port)
redis.call('ZREM', KEYS[1], port)
redis.call('ZADD', KEYS[4], expires, port)
return 1
`;
