-- patch: the two statements the service issues for PATCH …/{id} of opts.title:
-- read the row, then the compare-and-swap UPDATE of every column, conditional on
-- the version and creation time just read. The new title is a random number and
-- lwt is ct + 1 (the service sends the current time): values pgbench makes itself.
\set n random(1, :rows)
SELECT "integration_points"."id", "integration_points"."code", "integration_points"."type", "integration_points"."token_local", "integration_points"."token_remote", "integration_points"."token_remote2", "integration_points"."url", "integration_points"."recv_svcscriptcode", "integration_points"."recv_svcscriptcode_ws", "integration_points"."send_svcscriptcode", "integration_points"."send_svcscriptcode_ws", "integration_points"."opts_title", "integration_points"."opts_comment", "integration_points"."opts_allow_files_api", "integration_points"."opts_issync", "integration_points"."ct", "integration_points"."lwt", "integration_points"."version" FROM "integration_points" WHERE "integration_points"."id" = lpad(to_hex(:n::bigint), 32, '0')::uuid \gset
\set title random(1, 1000000000)
\set next_version :version + 1
\set lwt :ct + 1
UPDATE "integration_points" SET "id" = :id, "code" = :code, "type" = :type, "token_local" = :token_local, "token_remote" = :token_remote, "token_remote2" = :token_remote2, "url" = :url, "recv_svcscriptcode" = :recv_svcscriptcode, "recv_svcscriptcode_ws" = :recv_svcscriptcode_ws, "send_svcscriptcode" = :send_svcscriptcode, "send_svcscriptcode_ws" = :send_svcscriptcode_ws, "opts_title" = :title, "opts_comment" = :opts_comment, "opts_allow_files_api" = :opts_allow_files_api, "opts_issync" = :opts_issync, "ct" = :ct, "lwt" = :lwt, "version" = :next_version WHERE "integration_points"."id" = :id AND "integration_points"."version" = :version AND "integration_points"."ct" = :ct;
