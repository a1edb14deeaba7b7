-- wrk script for scripts/bench/embed: GET widget pages (or one static file) like many municipal visitors.
--
-- Environment: BENCH_TARGETS ("path|etag;path|etag;…"), BENCH_REVALIDATE (share 0..1 of requests that
-- carry If-None-Match with the page's current ETag, as a returning visitor's browser does).
-- done() prints one line: BENCH_RESULT <json>.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  targets = {}
  for path, etag in string.gmatch(os.getenv("BENCH_TARGETS") or "/healthz|", "([^|;]+)|([^;]*)") do
    targets[#targets + 1] = { path = path, etag = etag }
  end
  revalidate = tonumber(os.getenv("BENCH_REVALIDATE") or "0")
  sent, ok200, ok304, other = 0, 0, 0, 0
  math.randomseed(os.time() + #targets + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
end

function request()
  sent = sent + 1
  local target = targets[(sent % #targets) + 1]
  local headers = { ["Accept-Encoding"] = "gzip" }
  if target.etag ~= "" and math.random() < revalidate then
    headers["If-None-Match"] = target.etag
  end
  return wrk.format("GET", target.path, headers)
end

function response(status, hdrs, body)
  if status == 200 then ok200 = ok200 + 1
  elseif status == 304 then ok304 = ok304 + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local s200, s304, sother = 0, 0, 0
  for _, thread in ipairs(threads) do
    s200 = s200 + thread:get("ok200")
    s304 = s304 + thread:get("ok304")
    sother = sother + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"completed": %d, "duration_us": %d, "bytes": %d, "s200": %d, "s304": %d, "other": %d, ' ..
    '"errors": %d, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, s200, s304, sother,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
