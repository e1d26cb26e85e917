-- GET one point by id, a random existing row per request.
local common = require "common"

function init(args)
    common.seed()
end

function request()
    return wrk.format("GET", common.collection .. "/" .. common.id(common.random_row()),
        common.headers)
end
