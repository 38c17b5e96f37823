-- ARGV: P, horizon, batch, forget_idle_ms. Removes up to `batch` done rows
-- that were done strictly before the horizon; replies how many.
-- With forget_idle_ms > 0 it also deletes the consumers that hold no entry
-- and have not read for that long (replicas that are gone): a live one that
-- reads again is made anew by XREADGROUP.
local ids = redis.call('ZRANGEBYSCORE', xkey('done'), '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local count = 0
for _, id in ipairs(ids) do
  if remove(id) then count = count + 1 end
end
local forget = tonumber(ARGV[4])
if forget > 0 then
  for _, ns in ipairs(redis.call('SMEMBERS', P .. 'nss')) do
    local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', skey(ns), GROUP)
    if ok then
      for _, c in ipairs(consumers) do
        local info = {}
        for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
        if info['pending'] == 0 and tonumber(info['idle']) > forget then
          redis.call('XGROUP', 'DELCONSUMER', skey(ns), GROUP, info['name'])
        end
      end
    end
  end
end
return count
