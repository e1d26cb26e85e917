-- get_by_id: the statement the service issues for GET …/{id}, on a random existing row.
-- The service binds the id; pgbench computes it from :n (the cheapest SQL expression).
\set n random(1, :rows)
\set limit 1
SELECT "integration_points"."id", "integration_points"."code", "integration_points"."type", "integration_points"."token_local", "integration_points"."token_remote", "integration_points"."token_remote2", "integration_points"."url", "integration_points"."recv_svcscriptcode", "integration_points"."recv_svcscriptcode_ws", "integration_points"."send_svcscriptcode", "integration_points"."send_svcscriptcode_ws", "integration_points"."opts_title", "integration_points"."opts_comment", "integration_points"."opts_allow_files_api", "integration_points"."opts_issync", "integration_points"."ct", "integration_points"."lwt", "integration_points"."version" FROM "integration_points" WHERE "integration_points"."id" = lpad(to_hex(:n::bigint), 32, '0')::uuid LIMIT :limit;
