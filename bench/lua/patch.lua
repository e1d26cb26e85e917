-- PATCH opts.title of a random existing point to a random value, so that
-- every request writes (a patch that changes nothing is answered without one).
local common = require "common"

function init(args)
    common.seed()
end

function request()
    local body = string.format('{"opts":{"title":"t-%d-%d"}}',
        math.random(1, 1000000000), math.random(1, 1000000000))
    return wrk.format("PATCH", common.collection .. "/" .. common.id(common.random_row()),
        common.headers, body)
end
