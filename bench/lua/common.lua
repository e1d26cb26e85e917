-- Shared by the workload scripts: how to name an existing row of the data set
-- (see bench/sql/load_postgres.sql) and the summary line bench/run.sh parses.

local M = {}

M.collection = "/rest/v1/service/integration_points"

-- How many rows the data set has; every n in [1, rows] exists.
M.rows = tonumber(os.getenv("BENCH_ROWS") or "100000")

-- The ten kinds, in the loader's order (row n has kind n % 10).
M.types = { "public", "telegram", "webhook", "viber", "whatsapp",
            "vk", "email", "sms", "slack", "messenger" }

-- Headers every request carries, with the API key when the service needs one.
M.headers = { ["Content-Type"] = "application/json" }
local api_key = os.getenv("BENCH_API_KEY")
if api_key and api_key ~= "" then
    M.headers["Authorization"] = "Bearer " .. api_key
end

-- Each thread numbers itself in setup(); different seeds per thread, or both
-- threads would request the same sequence of rows.
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("thread_id", threads)
end

function M.seed()
    math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
end

function M.random_row()
    return math.random(1, M.rows)
end

function M.id(n)
    return string.format("00000000-0000-0000-0000-%012x", n)
end

function M.token(n)
    return string.format("%032d", n)
end

-- Percent-encodes a query string value.
function M.encode(s)
    return (s:gsub("[^%w%-_%.~]", function(c)
        return string.format("%%%02X", string.byte(c))
    end))
end

-- One machine-readable line for bench/run.sh, after wrk's own report.
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
        "status_errors=%d socket_errors=%d\n",
        summary.requests, summary.duration,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), latency.max,
        e.status, e.connect + e.read + e.write + e.timeout))
end

return M
