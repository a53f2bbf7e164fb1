-- wrk script: POST /v1/placements, one young person per request, from a
-- request list (CSV youth_id,offer_id,start_date,planned_end_date; line k
-- goes to thread k % BENCH_THREADS), with the token in BENCH_TOKEN (and,
-- with BENCH_IDEM=1, an Idempotency-Key "bench-<youth_id>" on each). Each
-- thread writes one line per answer to BENCH_OUT.<thread>:
--   C,<placement id>,<youth_id>,<offer_id>,<place_id>   a 201
--   S,<status>,<problem type>                           anything else
-- and once its list is used up it asks GET /healthz instead (line X): the
-- caller sees that the list was too short. tests/bench/run_placement_bench.sh
-- sets the environment and reads the files.
local count = 0

function setup(thread)
   thread:set("thread_no", count)
   count = count + 1
end

function init(args)
   local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
   lines = {}
   local i = 0
   for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      if i % nthreads == thread_no then
         lines[#lines + 1] = line
      end
      i = i + 1
   end
   pos = 1
   idem = os.getenv("BENCH_IDEM") == "1"
   out = assert(io.open(os.getenv("BENCH_OUT") .. "." .. thread_no, "w"))
   out:setvbuf("line")
   wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local l = lines[pos]
   if not l then
      return wrk.format("GET", "/healthz")
   end
   pos = pos + 1
   local y, o, s, e = l:match("^(%d+),(%d+),([%d-]+),([%d-]+)$")
   local headers = nil
   if idem then
      -- wrk.format sends the headers given instead of wrk.headers, not with them
      headers = {["Idempotency-Key"] = "bench-" .. y}
      for k, v in pairs(wrk.headers) do headers[k] = v end
   end
   return wrk.format("POST", "/v1/placements", headers, string.format(
      '{"youth_id":%s,"offer_id":%s,"start_date":"%s","planned_end_date":"%s"}', y, o, s, e))
end

function response(status, headers, body)
   if status == 201 then
      out:write(string.format("C,%s,%s,%s,%s\n", body:match('"id": *(%d+)') or "?",
         body:match('"youth_id": *(%d+)') or "?", body:match('"offer_id": *(%d+)') or "?",
         body:match('"place_id": *(%d+)') or "?"))
   elseif status == 200 and not lines[pos] then
      out:write("X\n")
   else
      out:write(string.format("S,%d,%s\n", status, body:match('"type": *"([^"]*)"') or ""))
   end
end
