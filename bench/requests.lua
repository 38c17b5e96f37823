-- wrk script of bench/load.sh: sends the precomputed requests of the file
-- $BOOKHOOK_REQUESTS (raw HTTP/1.1 requests, each followed by a NUL byte).
-- Thread k of $BOOKHOOK_WRK_THREADS sends the requests whose index is k modulo
-- the thread count, each once, so no two requests sent are the same delivery.
-- When a thread runs out it starts over, and done() reports the repeats: a
-- run with repeats sent duplicates and the harness marks it invalid.

local path = os.getenv("BOOKHOOK_REQUESTS")
local thread_count = tonumber(os.getenv("BOOKHOOK_WRK_THREADS") or "1")
local threads = {}
local created = 0

function setup(thread)
  thread:set("thread_id", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  requests = {}
  local pos, index = 1, 0
  while true do
    local stop = string.find(data, "\0", pos, true)
    if not stop then break end
    if index % thread_count == thread_id then
      requests[#requests + 1] = string.sub(data, pos, stop - 1)
    end
    index = index + 1
    pos = stop + 1
  end
  data = nil
  collectgarbage("collect")
  available = #requests
  issued = 0
end

function request()
  issued = issued + 1
  local index = issued
  if index > available then
    index = (index - 1) % available + 1
  end
  return requests[index]
end

function done(summary, latency, requests)
  local available_total, issued_total, repeats = 0, 0, 0
  for _, thread in ipairs(threads) do
    local a, i = thread:get("available"), thread:get("issued")
    available_total = available_total + a
    issued_total = issued_total + i
    if i > a then repeats = repeats + (i - a) end
  end
  io.write(string.format("unique requests: %d, issued: %d, repeats: %d\n",
    available_total, issued_total, repeats))
end
