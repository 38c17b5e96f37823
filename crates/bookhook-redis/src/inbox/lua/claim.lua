-- ARGV: P, ns, now, lease_until, max, consumer, token prefix (24 hex digits).
-- Replies a list of {id, token, newer_done_occ or '', HGETALL of the row, payload}.
local ns, now, untl, max, me, base = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
ensure_group(ns)

-- Three sources of rows that may run, each in id order, merged so that the
-- call takes the oldest ids first:
-- - new events, read from the stream with XREADGROUP (the stream only ever
--   gets a row at ingest, so its entries are in id order);
-- - rows waiting in the delayed set that are due: retries, replays,
--   abandoned rows, rows released by their ordering key, and stream entries
--   a claim read but did not take (given back below);
-- - rows whose lease ran out (by the caller's clock), taken over with XCLAIM.
local due = redis.call('ZRANGEBYSCORE', dkey(ns), '-inf', now, 'LIMIT', 0, 1000)
table.sort(due, function(a, b) return tonumber(a) < tonumber(b) end)
local expired = redis.call('ZRANGEBYSCORE', lkey(ns), '-inf', '(' .. now, 'LIMIT', 0, 1000)
table.sort(expired, function(a, b) return tonumber(a) < tonumber(b) end)
local read, ri, di, ei = {}, 1, 1, 1
local stream_done = false

local function read_more(count)
  local ok, reply = pcall(redis.call, 'XREADGROUP', 'GROUP', GROUP, me, 'COUNT', count,
    'STREAMS', skey(ns), '>')
  if not ok then
    -- The group is gone (the stream was deleted by hand): make it again.
    pcall(redis.call, 'XGROUP', 'CREATE', skey(ns), GROUP, '0', 'MKSTREAM')
    reply = false
  end
  if not reply or #reply[1][2] == 0 then
    stream_done = true
    return
  end
  for _, entry in ipairs(reply[1][2]) do
    table.insert(read, {id = entry[2][2], sid = entry[1]})
  end
end

-- The next candidate: {id, sid, source}, or nil when every source is empty.
local function next_candidate(wanted)
  if ri > #read and not stream_done then
    read_more(wanted)
  end
  local best, source = nil, nil
  local function consider(id, from)
    if id and (not best or tonumber(id) < tonumber(best)) then
      best, source = id, from
    end
  end
  consider(read[ri] and read[ri].id, 'stream')
  consider(due[di], 'due')
  consider(expired[ei], 'expired')
  if source == 'stream' then
    ri = ri + 1
    return {id = best, sid = read[ri - 1].sid, source = source}
  elseif source == 'due' then
    di = di + 1
  elseif source == 'expired' then
    ei = ei + 1
  end
  if best then return {id = best, source = source} end
  return nil
end

local out = {}
while #out < max do
  local c = next_candidate(max - #out)
  if not c then break end
  local id = c.id
  local e = ek(id)
  local r = redis.call('HMGET', e, 'st', 'sid', 'next', 'ok', 'occ', 'att', 'trig', 'lease')
  local st, sid, nxt, ok, occ = r[1], r[2], r[3], r[4], r[5]
  local take = false
  if c.source == 'expired' then
    -- Still processing (nothing else ran since the read); an older row of
    -- its key pending or processing keeps it waiting as it is.
    if not blocked(id, ns, ok) then
      end_attempt(id, r[6], '', 'expired', nil)
      if sid then
        -- Its stream entry moves to this consumer.
        redis.call('XCLAIM', skey(ns), GROUP, me, 0, sid, 'JUSTID')
      end
      take = true
    end
  elseif c.source == 'due' then
    redis.call('ZREM', dkey(ns), id)
    if st == 'pending' and not sid and not blocked(id, ns, ok) then
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

-- Entries read from the stream but not reached: given back to the delayed
-- set (due at once), where the next claim finds them in id order.
for i = ri, #read do
  local id, sid = read[i].id, read[i].sid
  redis.call('XACK', skey(ns), GROUP, sid)
  redis.call('XDEL', skey(ns), sid)
  local r = redis.call('HMGET', ek(id), 'st', 'sid', 'next')
  if r[1] == 'pending' and r[2] == sid then
    redis.call('HDEL', ek(id), 'sid')
    redis.call('ZADD', dkey(ns), r[3], id)
  end
end
return out
