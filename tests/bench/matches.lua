-- wrk script: GET /v1/youth/<random id>/matches?limit=10, ids uniform in
-- 1..BENCH_YOUTH_MAX, with the token in BENCH_TOKEN (both from the
-- environment; tests/bench/run_match_bench.sh sets them). Each thread has its
-- own seeded generator, so a run asks for the same ids every time.
local threads = 0

function setup(thread)
   thread:set("thread_no", threads)
   threads = threads + 1
end

function init(args)
   max_id = tonumber(os.getenv("BENCH_YOUTH_MAX") or "200000")
   math.randomseed(4242 + (thread_no or 0))
   wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
end

function request()
   return wrk.format("GET", "/v1/youth/" .. math.random(1, max_id) .. "/matches?limit=10")
end
