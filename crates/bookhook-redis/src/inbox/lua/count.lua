-- ARGV: P, then the filter (12 values). Replies how many rows match.
local count = 0
scan(read_filter(2), nil, function(_, _)
  count = count + 1
  return false
end)
return count
