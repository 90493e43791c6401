-- The key-bound policies of 0009, without a function call per statement.
--
-- 0009's policies called SECURITY DEFINER functions (plpgsql, SET search_path) once per
-- statement. Measured on bench/api.py's database (500k bookings, 2026-12-05), that one call
-- cost about 0.1 ms of the backend per statement (the function's per-transaction and
-- per-query set-up, and saving and restoring the GUC; a call in a loop costs 7 us), which
-- was +16% on the database round trip of a deep bookings page.
--
-- The policies now read api_keys themselves, in a scalar subquery that Postgres plans with
-- the statement (cached with its generic plan) and runs once per statement (an InitPlan).
-- No definer rights are needed: the subquery runs as the API role, which sees exactly one
-- row of api_keys, the one of the hash it presents, and only while it is not revoked
-- (policy key_lookup, 0008); an expired key is filtered out here. What a session without a
-- valid key's hash sees is unchanged: nothing. A policy's expression is stored resolved
-- (table and function ids), so no search_path or temporary object of the session can
-- change what it reads.
DO $do$
DECLARE
  -- The hotel of the presented key, when it is a valid hotel key; else NULL.
  key_hotel constant text := $sql$(SELECT k.hotel_id FROM public.api_keys AS k
      WHERE k.key_hash = current_setting('pmsync.key_hash', true) AND NOT k.is_admin
        AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))$sql$;
  -- True when the presented key is a valid admin key; else NULL (no row).
  key_admin constant text := $sql$(SELECT k.is_admin FROM public.api_keys AS k
      WHERE k.key_hash = current_setting('pmsync.key_hash', true) AND k.is_admin
        AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))$sql$;
  hotel_tables constant text[][] := ARRAY[['hotels', 'id'], ['bookings', 'hotel_id'],
                                          ['rooms', 'hotel_id'], ['sync_checkpoints', 'hotel_id']];
  t text[];
BEGIN
  FOREACH t SLICE 1 IN ARRAY hotel_tables LOOP
    EXECUTE format('DROP POLICY tenant_isolation ON %I', t[1]);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%I = %s)', t[1], t[2], key_hotel);
  END LOOP;
  -- A hotel sees its own rejects (sync status counts them); admin sees all.
  DROP POLICY tenant_isolation ON dlq_messages;
  EXECUTE format('CREATE POLICY tenant_isolation ON dlq_messages USING (hotel_id = %s OR %s)',
                 key_hotel, key_admin);
  DROP POLICY admin_only ON pms_configs;
  EXECUTE format('CREATE POLICY admin_only ON pms_configs USING (%s)', key_admin);
  -- Same meaning as in 0009, for any policy written against it.
  EXECUTE format($f$CREATE OR REPLACE FUNCTION pmsync_row_visible(row_hotel text) RETURNS boolean
                    LANGUAGE sql STABLE AS $body$ SELECT row_hotel = %s OR %s $body$ $f$,
                 key_hotel, key_admin);
END
$do$;

DROP FUNCTION pmsync_key_hotel();
DROP FUNCTION pmsync_key_is_admin();
