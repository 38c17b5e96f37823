-- ARGV: P. Replies {pending, processing, done, dead, oldest pending received or ''}.
local oldest = ''
local first = redis.call('ZRANGE', xkey('pending'), 0, 0)[1]
if first then
  oldest = redis.call('HGET', ek(first), 'recv') or ''
end
return {redis.call('ZCARD', xkey('pending')), redis.call('ZCARD', xkey('processing')),
  redis.call('ZCARD', xkey('done')), redis.call('ZCARD', xkey('dead')), oldest}
