-- ARGV: P, horizon, batch. Removes up to `batch` done rows that were done
-- strictly before the horizon; replies how many.
local ids = redis.call('ZRANGEBYSCORE', xkey('done'), '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local count = 0
for _, id in ipairs(ids) do
  if remove(id) then count = count + 1 end
end
return count
