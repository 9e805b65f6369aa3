-- wrk script of bench/http: cycle through the request paths of a file, one a line.
--   wrk -s bench/http/wrk.lua URL -- PATHS_FILE [BEARER_TOKEN]
-- Each wrk thread of each run starts at a random offset (so runs do not replay the same numbers
-- into the server's caches); every request string is formatted once, in init().
-- done() prints one machine-readable RESULT line (latencies in microseconds).

local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local reqs = {}
local n = 0
local i = 0

function init(args)
   if args[2] then
      wrk.headers["Authorization"] = "Bearer " .. args[2]
   end
   for line in io.lines(args[1]) do
      if #line > 0 then
         n = n + 1
         reqs[n] = wrk.format("GET", line)
      end
   end
   math.randomseed(os.time() * 1000 + (id or 0) * 7919)
   i = math.random(n) - 1
end

function request()
   i = i % n + 1
   return reqs[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d " ..
      "write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
