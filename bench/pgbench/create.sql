-- create: the statement the service issues for POST with a new code. The service
-- binds a time-ordered UUIDv7 id, a random token and the current time; pgbench
-- makes the same shapes in SQL (microseconds then random bits for the id, so
-- that it too appends to the id index) with the cheapest expressions it has.
\set r random(1, 9223372036854775806)
INSERT INTO "integration_points" ("id", "code", "type", "token_local", "token_remote", "token_remote2", "url", "recv_svcscriptcode", "recv_svcscriptcode_ws", "send_svcscriptcode", "send_svcscriptcode_ws", "opts_title", "opts_comment", "opts_allow_files_api", "opts_issync", "ct", "lwt", "version") VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, 'pgbench-' || :r, 'webhook', lpad(to_hex(:r::bigint), 32, '0'), '', '', '', '', '', '', '', '', '', false, false, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 1);
