-- ARGV: P, ns, now, lease_until, max, consumer, token prefix (24 hex digits).
-- Replies a list of {id, token, newer_done_occ or '', HGETALL of the row, payload}.
local ns, now, untl, max, me, base = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
ensure_group(ns)

-- Due retries, replays and released rows go (back) into the stream, oldest first.
local due = redis.call('ZRANGEBYSCORE', dkey(ns), '-inf', now, 'LIMIT', 0, 1000)
table.sort(due, function(a, b) return tonumber(a) < tonumber(b) end)
for _, id in ipairs(due) do
  redis.call('ZREM', dkey(ns), id)
  local r = redis.call('HMGET', ek(id), 'st', 'sid', 'ok')
  if r[1] == 'pending' and not r[2] and not blocked(id, ns, r[3]) then
    queue(id, ns)
  end
end

local candidates = {}
-- Rows whose lease ran out (by the caller's clock) may be taken over, unless
-- an older row of their key holds it (then they stay as they are).
local expired = redis.call('ZRANGEBYSCORE', lkey(ns), '-inf', '(' .. now, 'LIMIT', 0, 1000)
table.sort(expired, function(a, b) return tonumber(a) < tonumber(b) end)
for _, id in ipairs(expired) do
  if #candidates >= max then break end
  if not blocked(id, ns, redis.call('HGET', ek(id), 'ok')) then
    table.insert(candidates, {id = id, expired = true})
  end
end
local want = max - #candidates
if want > 0 then
  local ok, reply = pcall(redis.call, 'XREADGROUP', 'GROUP', GROUP, me, 'COUNT', want,
    'STREAMS', skey(ns), '>')
  if not ok then
    -- The group is gone (the stream was deleted by hand): make it again.
    pcall(redis.call, 'XGROUP', 'CREATE', skey(ns), GROUP, '0', 'MKSTREAM')
    reply = false
  end
  if reply then
    for _, entry in ipairs(reply[1][2]) do
      local fields = entry[2]
      table.insert(candidates, {id = fields[2], sid = entry[1], expired = false})
    end
  end
end
table.sort(candidates, function(a, b) return tonumber(a.id) < tonumber(b.id) end)

local out = {}
for _, c in ipairs(candidates) do
  local id = c.id
  local e = ek(id)
  local r = redis.call('HMGET', e, 'st', 'sid', 'next', 'ok', 'occ', 'att', 'trig', 'lease')
  local st, sid, nxt, ok, occ = r[1], r[2], r[3], r[4], r[5]
  local take = false
  if c.expired then
    -- Blocked now only by a row of its key taken earlier in this call.
    if not blocked(id, ns, ok) then
      end_attempt(id, r[6], '', 'expired', nil)
      if sid then
        -- Its stream entry moves to this consumer.
        redis.call('XCLAIM', skey(ns), GROUP, me, 0, sid, 'JUSTID')
      end
      take = true
    end
  elseif st ~= 'pending' or sid ~= c.sid then
    -- A stale entry: the row was removed, finished or queued again since.
    redis.call('XACK', skey(ns), GROUP, c.sid)
    redis.call('XDEL', skey(ns), c.sid)
  elseif compare(nxt, now) > 0 then
    unqueue(id, ns, sid)
    redis.call('ZADD', dkey(ns), nxt, id)
  elseif blocked(id, ns, ok) then
    unqueue(id, ns, sid)
  else
    take = true
  end
  if take then
    local n = tonumber(r[6]) + 1
    local trig = r[7] or 'automatic'
    local tok = base .. string.format('%08x', #out)
    redis.call('HSET', e, 'st', 'processing', 'att', n, 'lease', untl, 'tok', tok,
      'trig', 'automatic', 'a' .. n, now .. '||running|' .. trig .. '|')
    redis.call('HDEL', e, 'next')
    if not c.expired then
      redis.call('ZREM', xkey('pending'), id)
      redis.call('ZADD', xkey('processing'), id, id)
    end
    redis.call('ZADD', lkey(ns), untl, id)
    local newer = ''
    if ok and occ then
      local top = redis.call('ZREVRANGE', nkey(ns, ok), 0, 0)[1]
      if top then
        local top_occ = redis.call('HGET', ek(top), 'occ')
        if top_occ and compare(top_occ, occ) > 0 then
          newer = top_occ
        end
      end
    end
    table.insert(out, {id, tok, newer, redis.call('HGETALL', e), redis.call('GET', bk(id))})
  end
end
return out
