-- Shared by every inbox script. ARGV[1] is always the key prefix.
--
-- Layout under the prefix P:
--   seq            INCR counter of inbox ids
--   keys           hash: "<len(ns)>:<ns>:<key>" -> id (the idempotency index)
--   e:<id>         hash: one event's metadata and state (fields in `codec`)
--   b:<id>         string: its stored headers and body
--   all            zset of every id (score id): listings, newest first
--   x:pending      zset of pending ids (score received_at): stats
--   x:processing   zset of processing ids (score id)
--   x:done         zset of done ids (score done_at): retention
--   x:dead         zset of dead ids (score id)
--   nss            set of namespaces seen (their stream has a group)
--   s:<ns>         stream of new events (added at ingest only, so in id
--                  order), consumer group "bookhook"
--   d:<ns>         zset of pending ids out of the stream that wait for their
--                  time or their turn in a claim (score run_at)
--   l:<ns>         zset of processing ids (score lease_until)
--   o:<len>:<ns>:<ok>  zset of pending and processing ids of one ordering key
--   n:<len>:<ns>:<ok>  zset of done ids of one ordering key (score occurred_at)
local P = ARGV[1]
local GROUP = 'bookhook'

local function ek(id) return P .. 'e:' .. id end
local function bk(id) return P .. 'b:' .. id end
local function nsk(ns) return #ns .. ':' .. ns end
local function okey(ns, ok) return P .. 'o:' .. nsk(ns) .. ':' .. ok end
local function nkey(ns, ok) return P .. 'n:' .. nsk(ns) .. ':' .. ok end
local function skey(ns) return P .. 's:' .. ns end
local function dkey(ns) return P .. 'd:' .. ns end
local function lkey(ns) return P .. 'l:' .. ns end
local function xkey(state) return P .. 'x:' .. state end

-- Compares two decimal integer strings exactly (Lua numbers are doubles).
local function compare(a, b)
  local neg_a = string.sub(a, 1, 1) == '-'
  local neg_b = string.sub(b, 1, 1) == '-'
  if neg_a ~= neg_b then
    if neg_a then return -1 else return 1 end
  end
  local da = neg_a and string.sub(a, 2) or a
  local db = neg_b and string.sub(b, 2) or b
  local r
  if #da ~= #db then
    r = (#da < #db) and -1 or 1
  elseif da == db then
    r = 0
  else
    r = (da < db) and -1 or 1
  end
  if neg_a then r = -r end
  return r
end

local function ensure_group(ns)
  if redis.call('SADD', P .. 'nss', ns) == 1 then
    pcall(redis.call, 'XGROUP', 'CREATE', skey(ns), GROUP, '0', 'MKSTREAM')
  end
end

-- Appends a new row to its namespace's stream.
local function queue(id, ns)
  ensure_group(ns)
  local sid = redis.call('XADD', skey(ns), '*', 'i', id)
  redis.call('HSET', ek(id), 'sid', sid)
end

-- Takes a row out of the stream (acknowledged and deleted) and out of the
-- delayed set.
local function unqueue(id, ns, sid)
  if sid then
    redis.call('XACK', skey(ns), GROUP, sid)
    redis.call('XDEL', skey(ns), sid)
    redis.call('HDEL', ek(id), 'sid')
  end
  redis.call('ZREM', dkey(ns), id)
end

-- Whether an older row of the same ordering key is pending or processing.
local function blocked(id, ns, ok)
  if not ok then return false end
  local older = redis.call('ZRANGEBYSCORE', okey(ns, ok), '-inf', '(' .. id, 'LIMIT', 0, 1)
  return #older > 0
end

-- After a row of an ordering key left the pending/processing set, the oldest
-- remaining one may run: a parked pending row (not in the stream, not
-- delayed) goes to the delayed set at its own time.
local function wake(ns, ok)
  local head = redis.call('ZRANGE', okey(ns, ok), 0, 0)[1]
  if not head then return end
  local r = redis.call('HMGET', ek(head), 'st', 'sid', 'next')
  if r[1] == 'pending' and not r[2] and not redis.call('ZSCORE', dkey(ns), head) then
    redis.call('ZADD', dkey(ns), r[3], head)
  end
end

local function leave_key(id, ns, ok)
  if ok then
    redis.call('ZREM', okey(ns, ok), id)
    wake(ns, ok)
  end
end

local function move_state(id, from, to, score)
  redis.call('ZREM', xkey(from), id)
  redis.call('ZADD', xkey(to), score, id)
  redis.call('HSET', ek(id), 'st', to)
end

-- Attempt records: field a<n> = started|ended|outcome|trigger|error.
local function end_attempt(id, n, now, outcome, err)
  local f = 'a' .. n
  local v = redis.call('HGET', ek(id), f)
  if not v then return end
  local started, ended, was, trig = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
  if was ~= 'running' then return end
  redis.call('HSET', ek(id), f, started .. '|' .. now .. '|' .. outcome .. '|' .. trig .. '|' .. (err or ''))
end

-- Filter arguments start at ARGV[i]: ns_set, ns, state, provider, type,
-- ok_set, ok, since_set, since, before_set, before. Empty state, provider and
-- type mean "any".
local function read_filter(i)
  return {
    ns = ARGV[i] == '1' and ARGV[i + 1] or nil,
    st = ARGV[i + 2] ~= '' and ARGV[i + 2] or nil,
    prov = ARGV[i + 3] ~= '' and ARGV[i + 3] or nil,
    ty = ARGV[i + 4] == '1' and ARGV[i + 5] or nil,
    ok = ARGV[i + 6] == '1' and ARGV[i + 7] or nil,
    since = ARGV[i + 8] == '1' and ARGV[i + 9] or nil,
    before = ARGV[i + 10] == '1' and ARGV[i + 11] or nil,
  }
end

local function matches(f, id)
  local r = redis.call('HMGET', ek(id), 'ns', 'st', 'prov', 'type', 'ok', 'recv')
  if not r[1] then return false, r end
  if f.ns and r[1] ~= f.ns then return false, r end
  if f.st and r[2] ~= f.st then return false, r end
  if f.prov and r[3] ~= f.prov then return false, r end
  if f.ty and r[4] ~= f.ty then return false, r end
  if f.ok and r[5] ~= f.ok then return false, r end
  if f.since and compare(r[6], f.since) < 0 then return false, r end
  if f.before and compare(r[6], f.before) >= 0 then return false, r end
  return true, r
end

-- Calls fun(id, r) for every row matching the filter, newest first, until it
-- returns true (stop). Rows are read in batches from the id index.
local function scan(f, before, fun)
  local max = before and ('(' .. before) or '+inf'
  while true do
    local ids = redis.call('ZREVRANGEBYSCORE', P .. 'all', max, '-inf', 'LIMIT', 0, 256)
    if #ids == 0 then return end
    for _, id in ipairs(ids) do
      local hit, r = matches(f, id)
      if hit and fun(id, r) then return end
    end
    max = '(' .. ids[#ids]
  end
end

-- Removes a row that is not processing, with everything pointing at it.
local function remove(id)
  local r = redis.call('HMGET', ek(id), 'ns', 'key', 'ok', 'sid', 'st')
  if not r[1] then return false end
  local ns, ok = r[1], r[3]
  redis.call('HDEL', P .. 'keys', nsk(ns) .. ':' .. r[2])
  unqueue(id, ns, r[4])
  redis.call('DEL', ek(id), bk(id))
  redis.call('ZREM', P .. 'all', id)
  redis.call('ZREM', xkey(r[5]), id)
  redis.call('ZREM', lkey(ns), id)
  if ok then
    redis.call('ZREM', nkey(ns, ok), id)
    leave_key(id, ns, ok)
  end
  return true
end
