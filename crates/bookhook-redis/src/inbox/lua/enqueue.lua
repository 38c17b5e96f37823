-- ARGV: P, ns, key, ok_set, ok, provider, type, kind, received, occ_set, occ, payload
-- (the stored headers and the body, see `codec::encode_payload`).
-- Replies {1, id} (queued) or {0, id} (duplicate).
local ns, key = ARGV[2], ARGV[3]
local field = nsk(ns) .. ':' .. key
local existing = redis.call('HGET', P .. 'keys', field)
if existing then
  return {0, existing}
end
local id = string.format('%d', redis.call('INCR', P .. 'seq'))
redis.call('HSET', P .. 'keys', field, id)
local recv = ARGV[9]
redis.call('HSET', ek(id), 'ns', ns, 'key', key, 'prov', ARGV[6], 'type', ARGV[7],
  'kind', ARGV[8], 'recv', recv, 'st', 'pending', 'att', 0, 'next', recv, 'trig', 'automatic')
-- The payload has a key of its own, so that the hash keeps only short
-- values and Redis stores it compactly (as a listpack).
redis.call('SET', bk(id), ARGV[12])
if ARGV[10] == '1' then
  redis.call('HSET', ek(id), 'occ', ARGV[11])
end
redis.call('ZADD', P .. 'all', id, id)
redis.call('ZADD', xkey('pending'), recv, id)
local ok = nil
if ARGV[4] == '1' then
  ok = ARGV[5]
  redis.call('HSET', ek(id), 'ok', ok)
  redis.call('ZADD', okey(ns, ok), id, id)
end
if not blocked(id, ns, ok) then
  queue(id, ns)
end
return {1, id}
