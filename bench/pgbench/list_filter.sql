-- list_filter: the two statements the service issues for
-- GET …?filter={"type": …}&order=["code"]&limit=100: the page, then the exact
-- count for X-Total-Count. The kind is picked from the ten by index.
\set k random(1, 10)
\set limit 100
\set offset 0
SELECT "integration_points"."id", "integration_points"."code", "integration_points"."type", "integration_points"."token_local", "integration_points"."token_remote", "integration_points"."token_remote2", "integration_points"."url", "integration_points"."recv_svcscriptcode", "integration_points"."recv_svcscriptcode_ws", "integration_points"."send_svcscriptcode", "integration_points"."send_svcscriptcode_ws", "integration_points"."opts_title", "integration_points"."opts_comment", "integration_points"."opts_allow_files_api", "integration_points"."opts_issync", "integration_points"."ct", "integration_points"."lwt", "integration_points"."version" FROM "integration_points" WHERE "type" = (ARRAY['public', 'telegram', 'webhook', 'viber', 'whatsapp', 'vk', 'email', 'sms', 'slack', 'messenger'])[:k] ORDER BY "integration_points"."code" ASC, "integration_points"."id" ASC LIMIT :limit OFFSET :offset;
SELECT COUNT(*) AS "total" FROM "integration_points" WHERE "type" = (ARRAY['public', 'telegram', 'webhook', 'viber', 'whatsapp', 'vk', 'email', 'sms', 'slack', 'messenger'])[:k];
