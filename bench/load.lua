-- wrk script for bench/load: POST /v1/batch with 100 track events, or one
-- /v1/track, each with unique message ids; reports events/s and latency
-- percentiles as JSON on stdout (the last line).
-- Settings come from the environment: every Lua state of wrk (the threads'
-- and the one that runs done()) sees them.
local counter = 0
local threads = {}
local auth = os.getenv("WAYFARER_LOAD_AUTH")
local mode = os.getenv("WAYFARER_LOAD_MODE") or "batch"

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. auth
  wrk.path = (mode == "batch") and "/v1/batch" or "/v1/track"
end

local function track(n)
  return string.format(
    '{"type":"track","messageId":"%s%d-%d","userId":"u%d","event":"Product Viewed","timestamp":"2026-05-01T10:00:00Z","properties":{"sku":"sku-%d","price":%d}}',
    mode, id, n, n % 5000, n % 97, 10 + n % 90)
end

function request()
  if mode == "batch" then
    local parts = {}
    for i = 1, 100 do
      counter = counter + 1
      parts[i] = track(counter)
    end
    return wrk.format(nil, nil, nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, track(counter))
end

function done(summary, latency, requests)
  local per = (mode == "batch") and 100 or 1
  local ok = summary.requests - summary.errors.status - summary.errors.connect - summary.errors.read - summary.errors.write - summary.errors.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"mode":"%s","requests":%d,"errors":%d,"seconds":%.3f,"requests_per_s":%.1f,"events_per_s":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    mode, summary.requests, summary.requests - ok, secs, ok / secs, ok * per / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
