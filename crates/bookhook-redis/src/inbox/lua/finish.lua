-- Completes, fails or abandons a leased row.
-- ARGV: P, id, token, now, action ('done' | 'retry' | 'dead' | 'abandon'), retry_at, error.
-- Replies 1 when the lease held (and the change was made), 0 when it was lost.
local id, tok, now, action = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local e = ek(id)
local r = redis.call('HMGET', e, 'st', 'tok', 'ns', 'ok', 'sid', 'att', 'occ', 'recv')
if r[1] ~= 'processing' or r[2] ~= tok then
  return 0
end
local ns, ok, sid, n = r[3], r[4], r[5], r[6]
unqueue(id, ns, sid)
redis.call('ZREM', lkey(ns), id)
redis.call('HDEL', e, 'tok', 'lease')
if action == 'done' then
  end_attempt(id, n, now, 'processed', nil)
  move_state(id, 'processing', 'done', now)
  if ok then
    if r[7] then
      redis.call('ZADD', nkey(ns, ok), r[7], id)
    end
    leave_key(id, ns, ok)
  end
elseif action == 'dead' then
  end_attempt(id, n, now, 'dead', ARGV[7])
  redis.call('HSET', e, 'err', ARGV[7])
  move_state(id, 'processing', 'dead', id)
  leave_key(id, ns, ok)
else
  local at = now
  if action == 'retry' then
    at = ARGV[6]
    end_attempt(id, n, now, 'retrying', ARGV[7])
    redis.call('HSET', e, 'err', ARGV[7])
  else
    end_attempt(id, n, now, 'expired', nil)
  end
  redis.call('HSET', e, 'next', at)
  move_state(id, 'processing', 'pending', r[8])
  redis.call('ZADD', dkey(ns), at, id)
end
return 1
