-- One kind of point (a tenth of the rows), ordered by code, first 100.
local common = require "common"

local paths = {}

function init(args)
    common.seed()
    -- The ten possible URLs, built once: the measurement is of the service.
    for i, kind in ipairs(common.types) do
        paths[i] = common.collection
            .. "?filter=" .. common.encode('{"type":"' .. kind .. '"}')
            .. "&order=" .. common.encode('["code"]')
            .. "&limit=100"
    end
end

function request()
    return wrk.format("GET", paths[math.random(1, #paths)], common.headers)
end
