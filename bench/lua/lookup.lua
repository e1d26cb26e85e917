-- LOOKUP by a random existing token_local: the hot path of web-hook gateways.
--
-- wrk checks the first request it builds with an HTTP parser that knows only
-- the standard methods and refuses LOOKUP. That check calls request() once,
-- on the first thread, before any traffic; it is answered with a GET that is
-- never sent, and every request actually sent is a LOOKUP.
local common = require "common"

local checked = false

function init(args)
    common.seed()
    checked = thread_id ~= 1
end

function request()
    if not checked then
        checked = true
        return wrk.format("GET", common.collection, common.headers)
    end
    local body = '"' .. common.token(common.random_row()) .. '"'
    return wrk.format("LOOKUP", common.collection, common.headers, body)
end
