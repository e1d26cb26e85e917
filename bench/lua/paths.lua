-- GET one of the paths in BENCH_PATHS (separated by spaces), at random: for
-- workloads whose requests bench/lists.sh builds beforehand (a cursor taken
-- from a Link header, a count mode).
local common = require "common"

local paths = {}

function init(args)
    common.seed()
    for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "%S+") do
        paths[#paths + 1] = path
    end
    assert(#paths > 0, "BENCH_PATHS is empty")
end

function request()
    return wrk.format("GET", paths[math.random(1, #paths)], common.headers)
end
