-- ARGV: P, then the filter (12 values). Replies how many rows were removed.
local ids = {}
scan(read_filter(2), nil, function(id, r)
  if r[2] ~= 'processing' then table.insert(ids, id) end
  return false
end)
local count = 0
for _, id in ipairs(ids) do
  if remove(id) then count = count + 1 end
end
return count
