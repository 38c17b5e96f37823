-- ARGV: P, now, mode ('ids' | 'filter'), then the ids, or the filter (12 values).
-- Replies how many rows were put back to pending.
local now = ARGV[2]
local count = 0

local function replay(id)
  local e = ek(id)
  local r = redis.call('HMGET', e, 'st', 'ns', 'ok', 'sid', 'recv')
  local st, ns, ok = r[1], r[2], r[3]
  if not st or st == 'processing' then return end
  unqueue(id, ns, r[4])
  if st ~= 'pending' then
    move_state(id, st, 'pending', r[5])
    if ok then
      redis.call('ZREM', nkey(ns, ok), id)
      redis.call('ZADD', okey(ns, ok), id, id)
    end
  end
  redis.call('HSET', e, 'next', now, 'trig', 'manual')
  redis.call('ZADD', dkey(ns), now, id)
  count = count + 1
end

if ARGV[3] == 'ids' then
  for i = 4, #ARGV do
    replay(ARGV[i])
  end
else
  local ids = {}
  scan(read_filter(4), nil, function(id, r)
    if r[2] ~= 'processing' then table.insert(ids, id) end
    return false
  end)
  for _, id in ipairs(ids) do replay(id) end
end
return count
