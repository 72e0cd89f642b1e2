-- One workload for wrk, described by environment variables (bench/run.py sets them):
--   WRK_METHOD   GET, POST...                 WRK_BODY     request body, may hold {seq}
--   WRK_HEADERS  "Name: value" lines          WRK_EXPECT   the status that counts as success
--   WRK_THREADS  wrk's -t                     WRK_OFFSET   added to {seq}
--   WRK_MODULO   when > 0, {seq} cycles through 1..WRK_MODULO (existing accounts)
--   WRK_OUT      file the JSON summary is written to
-- {seq} in the body becomes a number unique across threads and requests of one run
-- (offset + id + count * threads): unique usernames for sign-ups; with WRK_MODULO, a
-- different existing account for each wrong-password login. Without {seq} the request is
-- built once and reused.

local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY") or ""
local expect = tonumber(os.getenv("WRK_EXPECT") or "200")
local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
local offset = tonumber(os.getenv("WRK_OFFSET") or "0")
local modulo = tonumber(os.getenv("WRK_MODULO") or "0")
local out = os.getenv("WRK_OUT")

local headers = {}
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then headers[name] = value end
end

wrk.method = method
wrk.headers = headers
if body ~= "" then wrk.body = body end

local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  statuses = {}
  unexpected = 0
end

if string.find(body, "{seq}", 1, true) then
  function request()
    local seq = offset + id + counter * nthreads
    if modulo > 0 then seq = (seq - 1) % modulo + 1 end
    counter = counter + 1
    local b = string.gsub(body, "{seq}", tostring(seq))
    return wrk.format(method, nil, headers, b)
  end
end

function response(status, hdrs, resp_body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status ~= expect then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local counts, bad = {}, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    for k, v in pairs(thread:get("statuses")) do counts[k] = (counts[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(counts) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  local json = string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "unexpected_status": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}, "statuses": {%s}}',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    table.concat(parts, ", "))
  if out then
    local f = assert(io.open(out, "w"))
    f:write(json)
    f:close()
  else
    io.write(json .. "\n")
  end
end
