-- ARGV: P, id, now, reason. Replies 1 (marked), 0 (left alone) or -1 (no such row).
local id, reason = ARGV[2], ARGV[4]
local e = ek(id)
local r = redis.call('HMGET', e, 'st', 'ns', 'ok', 'sid')
local st, ns, ok = r[1], r[2], r[3]
if not st then return -1 end
if st ~= 'pending' and st ~= 'done' then return 0 end
if st == 'pending' then
  unqueue(id, ns, r[4])
  move_state(id, 'pending', 'dead', id)
  redis.call('HDEL', e, 'next')
  redis.call('HSET', e, 'err', reason)
  leave_key(id, ns, ok)
else
  move_state(id, 'done', 'dead', id)
  redis.call('HSET', e, 'err', reason)
  if ok then redis.call('ZREM', nkey(ns, ok), id) end
end
return 1
