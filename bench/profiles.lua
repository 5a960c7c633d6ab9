-- wrk script for bench/profiles: GET /api/profiles/{id} for customer ids
-- drawn in turn from the file WAYFARER_PROFILE_IDS (one per line, each
-- thread starting elsewhere); reports latency percentiles as JSON on
-- stdout (the last line).
local ids = {}
local key = os.getenv("WAYFARER_PROFILE_KEY")
local n = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("WAYFARER_PROFILE_IDS")) do
    ids[#ids + 1] = line
  end
  wrk.headers["Authorization"] = "Bearer " .. key
  n = offset
end

function request()
  n = n + 1
  return wrk.format("GET", "/api/profiles/" .. ids[(n % #ids) + 1])
end

function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect - summary.errors.read - summary.errors.write - summary.errors.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"errors":%d,"requests_per_s":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.2f}\n',
    summary.requests, summary.requests - ok, ok / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
