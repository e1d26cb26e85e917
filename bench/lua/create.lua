-- POST new points with unique codes: run id, thread, and a per-thread counter.
local common = require "common"

local run = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local counter = 0

function init(args)
    common.seed()
end

function request()
    counter = counter + 1
    local body = string.format('{"code":"bench-%s-%d-%d","type":"webhook"}',
        run, thread_id, counter)
    return wrk.format("POST", common.collection, common.headers, body)
end
