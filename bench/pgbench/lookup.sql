-- lookup: the statement the service issues for LOOKUP with a token_local (a key that
-- is not a UUID is matched against code and token_local), on a random existing token.
\set n random(1, :rows)
SELECT "integration_points"."id" FROM "integration_points" WHERE "integration_points"."code" = lpad(:n::text, 32, '0') OR "integration_points"."token_local" = lpad(:n::text, 32, '0') ORDER BY "integration_points"."id" ASC;
