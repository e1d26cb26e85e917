-- The benchmark data set: :rows points, bulk-inserted in one statement.
--
-- Row n is derivable from n alone, so load generators pick an existing row
-- with one random number and no lookup table:
--   id          = 00000000-0000-0000-0000-<n as 12 hex digits>
--   token_local = n as 32 decimal digits (32 lowercase hex digits, as the domain requires)
--   code        = 'code-' || n
--   type        = one of ten kinds, n % 10 (see bench/lua/common.lua)
-- Run with: psql -v rows=100000 -f load_postgres.sql (on a migrated, empty database).
\set ON_ERROR_STOP on

INSERT INTO integration_points (
    id, code, type, token_local, token_remote, token_remote2, url,
    recv_svcscriptcode, recv_svcscriptcode_ws, send_svcscriptcode, send_svcscriptcode_ws,
    opts_title, opts_comment, opts_allow_files_api, opts_issync, ct, lwt, version
)
SELECT
    lpad(to_hex(n), 32, '0')::uuid,
    'code-' || n,
    (ARRAY['public', 'telegram', 'webhook', 'viber', 'whatsapp',
           'vk', 'email', 'sms', 'slack', 'messenger'])[n % 10 + 1],
    lpad(n::text, 32, '0'),
    md5('remote' || n),
    '',
    'https://hooks.example.com/in/' || n,
    'ws_hook', '', 'send_to_web', '',
    'Point ' || n,
    '',
    n % 2 = 0,
    n % 3 = 0,
    -- Creation times one second apart, ending now: the default order is by ct.
    (extract(epoch FROM now()) * 1000)::bigint - (:rows - n) * 1000,
    (extract(epoch FROM now()) * 1000)::bigint - (:rows - n) * 1000,
    1
FROM generate_series(1, :rows) AS n;

-- Fresh statistics and a set visibility map, as a long-running database has:
-- without them the planner guesses and index-only scans visit the heap.
VACUUM ANALYZE integration_points;
-- Written out now, not by a checkpoint spread over the first workloads.
CHECKPOINT;
