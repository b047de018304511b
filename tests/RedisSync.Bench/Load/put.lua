-- wrk script: PUTs that replace existing 5-field records, each changing 1 or 2 fields (n always, tier every
-- second write), and every one of them must be applied.
--
--   wrk -t T -c C -s put.lua URL -- COLLECTION BASE RECORDS_PER_THREAD API_KEY
--
-- Thread t owns the records "t<t>-0" .. "t<t>-<RECORDS_PER_THREAD-1>" (seeded beforehand) and writes record r
-- for the k-th time at version BASE + k. A record is never in flight twice: request() takes a record from the
-- thread's queue of idle records and response() puts it back once the answer (which names it in "id") arrived.
-- So no two connections ever write one record, versions rise per record, and a write can only be refused if
-- the gateway is wrong. The benchmark checks that afterwards by counting (final versions and revisions).

local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  prefix = "/api/v1/collections/" .. args[1] .. "/records/"
  base = tonumber(args[2])
  local records = tonumber(args[3])
  headers = { ["Content-Type"] = "application/json", ["X-Api-Key"] = args[4] }
  idle, head, tail, writes = {}, 1, 0, {}
  for r = 0, records - 1 do
    local id = "t" .. thread_index .. "-" .. r
    tail = tail + 1
    idle[tail] = id
    writes[id] = 0
  end
  -- wrk calls request() once on the first thread to check the script, and never sends that request.
  checking = thread_index == 0
end

local function put(id, version)
  local tier = (math.floor(version / 2) % 2 == 0) and "gold" or "silver"
  return wrk.format("PUT", prefix .. id, headers, string.format(
    '{"version":%d,"data":{"name":"record %s","region":"eu-west","tier":"%s","n":%d,"note":"written by the benchmark"}}',
    version, id, tier, version))
end

function request()
  local id = idle[head]
  if checking then
    checking = false
    return put(id, base + writes[id] + 1)
  end
  idle[head] = nil
  head = head + 1
  writes[id] = writes[id] + 1
  return put(id, base + writes[id])
end

function response(status, response_headers, body)
  local id = body:match('"id":"([^"]+)"')
  if id then
    tail = tail + 1
    idle[tail] = id
  end
end

-- One line the benchmark parses: counts, and latency percentiles in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,' ..
    '"p50Us":%d,"p95Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
