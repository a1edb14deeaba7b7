-- wrk script for scripts/bench/pledges: POST /api/v1/pledges, every request its own voucher code.
--
-- Environment: BENCH_CODES (file, one code a line), BENCH_OFFSET (first code index to use),
-- BENCH_THREADS (wrk -t), BENCH_INITIATIVES ("1,2,3"), BENCH_AMOUNT ("" = the default amount),
-- BENCH_NONCE (makes Idempotency-Keys unique per run). Request n of thread t uses code
-- offset + t + n * threads, so no two requests of a run share a code (until the list wraps).
-- done() prints one line: BENCH_RESULT <json>.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  for line in io.lines(os.getenv("BENCH_CODES")) do
    codes[#codes + 1] = line
  end
  offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  inits = {}
  for id in string.gmatch(os.getenv("BENCH_INITIATIVES") or "1", "%d+") do
    inits[#inits + 1] = id
  end
  local amount = os.getenv("BENCH_AMOUNT") or ""
  amount_part = amount ~= "" and (',"amount_cents":' .. amount) or ""
  nonce = os.getenv("BENCH_NONCE") or "0"
  headers = { ["Content-Type"] = "application/json" }
  sent = 0
  non201 = 0
  status_counts = ""
  samples = ""
  nsamples = 0
end

function request()
  local n = offset + tid + sent * nthreads
  sent = sent + 1
  local code = codes[(n % #codes) + 1]
  local initiative = inits[(n % #inits) + 1]
  headers["Idempotency-Key"] = nonce .. "-" .. n
  return wrk.format("POST", "/api/v1/pledges", headers,
    '{"code":"' .. code .. '","initiative_id":' .. initiative .. amount_part .. '}')
end

function response(status, hdrs, body)
  if status ~= 201 then
    non201 = non201 + 1
    status_counts = status_counts .. status .. ","
    if nsamples < 5 then
      nsamples = nsamples + 1
      samples = samples .. status .. " " .. string.gsub(string.sub(body, 1, 300), '[%c"\\]', " ") .. " | "
    end
  end
end

function done(summary, latency, requests)
  local total_sent, total_non201, all_statuses, all_samples = 0, 0, "", ""
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_non201 = total_non201 + thread:get("non201")
    all_statuses = all_statuses .. thread:get("status_counts")
    all_samples = all_samples .. thread:get("samples")
  end
  local by_status, summary_text = {}, ""
  for code in string.gmatch(all_statuses, "%d+") do
    by_status[code] = (by_status[code] or 0) + 1
  end
  for code, count in pairs(by_status) do
    summary_text = summary_text .. code .. "x" .. count .. " "
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"completed": %d, "duration_us": %d, "sent": %d, "non201": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f}, ' ..
    '"statuses": "%s", "samples": "%s"}\n',
    summary.requests, summary.duration, total_sent, total_non201,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, summary_text, all_samples))
end
