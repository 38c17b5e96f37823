-- ARGV: P, before ('' for the newest), limit, then the filter (12 values).
-- Replies up to `limit` rows, newest first, each as HMGET of the listed fields.
local before = ARGV[2] ~= '' and ARGV[2] or nil
local limit = tonumber(ARGV[3])
local out = {}
if limit <= 0 then return out end
scan(read_filter(4), before, function(id, _)
  table.insert(out, {id, redis.call('HMGET', ek(id), 'ns', 'key', 'ok', 'prov', 'type', 'kind',
    'recv', 'occ', 'st', 'att', 'next', 'lease', 'err')})
  return #out >= limit
end)
return out
