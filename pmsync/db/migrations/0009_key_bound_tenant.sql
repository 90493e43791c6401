-- Row-level security that a leaked API database login cannot switch off (issue #14).
--
-- Until now the policies trusted pmsync.role and pmsync.hotel_id, settings any session of the
-- API role can make itself: with the API's DSN alone, set_config('pmsync.role', 'admin', false)
-- showed every hotel's bookings. Now the tenant a policy sees comes only from a valid API key:
-- the API puts the presented key's hash in the transaction (pmsync.key_hash), and two
-- SECURITY DEFINER functions, owned by the owner role, resolve it to the key's hotel or admin
-- flag in api_keys, which the API role cannot list. An unknown, revoked or expired key
-- resolves to nothing, and then every policy shows nothing, whatever else the session sets.
-- Knowing a hash is as hard as knowing the key (SHA-256 of 256 random bits, pmsync/apikeys.py),
-- and the API role can read no hash it did not bring (0008).
--
-- Admin keys see the DLQ and the configs; only hotel keys see hotel data (the API already
-- refused admin keys on hotel routes, now the database does too).

ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
COMMENT ON COLUMN api_keys.expires_at IS 'NULL: never expires; at and after it the key is refused';

-- plpgsql, not sql: a SECURITY DEFINER function with SET is never inlined, and plpgsql keeps
-- the look-up's plan for the session where a sql function would plan its body on every query
-- (0008). The policies call each function inside a scalar subquery, so Postgres runs it once
-- per statement (an InitPlan), not once per row.
-- search_path is pinned with pg_temp last and api_keys is schema-qualified: otherwise a
-- session could shadow api_keys with a temporary table of its own (pg_temp is searched first
-- for tables unless the path names it).
CREATE FUNCTION pmsync_key_hotel() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN (SELECT k.hotel_id FROM public.api_keys AS k
           WHERE k.key_hash = current_setting('pmsync.key_hash', true)
             AND NOT k.is_admin AND k.revoked_at IS NULL
             AND (k.expires_at IS NULL OR k.expires_at > now()));
END
$$;

CREATE FUNCTION pmsync_key_is_admin() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN coalesce((SELECT k.is_admin FROM public.api_keys AS k
                    WHERE k.key_hash = current_setting('pmsync.key_hash', true)
                      AND k.is_admin AND k.revoked_at IS NULL
                      AND (k.expires_at IS NULL OR k.expires_at > now())), false);
END
$$;

REVOKE ALL ON FUNCTION pmsync_key_hotel(), pmsync_key_is_admin() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pmsync_key_hotel(), pmsync_key_is_admin() TO pmsync_api;

DROP POLICY tenant_isolation ON hotels;
CREATE POLICY tenant_isolation ON hotels USING (id = (SELECT pmsync_key_hotel()));
DROP POLICY tenant_isolation ON bookings;
CREATE POLICY tenant_isolation ON bookings USING (hotel_id = (SELECT pmsync_key_hotel()));
DROP POLICY tenant_isolation ON rooms;
CREATE POLICY tenant_isolation ON rooms USING (hotel_id = (SELECT pmsync_key_hotel()));
DROP POLICY tenant_isolation ON sync_checkpoints;
CREATE POLICY tenant_isolation ON sync_checkpoints USING (hotel_id = (SELECT pmsync_key_hotel()));
-- A hotel sees its own rejects (sync status counts them); admin sees all, with or without hotel.
DROP POLICY tenant_isolation ON dlq_messages;
CREATE POLICY tenant_isolation ON dlq_messages
  USING (hotel_id = (SELECT pmsync_key_hotel()) OR (SELECT pmsync_key_is_admin()));
-- Configs are no tenant's, but the API reads them on admin routes only.
ALTER TABLE pms_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_only ON pms_configs USING ((SELECT pmsync_key_is_admin()));

-- The API role writes nothing: replay and config publishing use the owner DSN
-- (pmsync/dlq_tools.py, pmsync/config_store.py). A leaked login must not rewrite a PMS config
-- the fetcher and mapper then follow.
REVOKE INSERT, UPDATE ON pms_configs FROM pmsync_api;
REVOKE UPDATE ON dlq_messages FROM pmsync_api;

-- Authentication tells an expired key from an unknown one (401 key_expired): the API role may
-- read the expiry of the one key whose hash it presents (policy key_lookup, 0008).
GRANT SELECT (expires_at) ON api_keys TO pmsync_api;

-- pmsync_row_visible (0002) is kept, with the key-bound meaning (the key's hotel, or any row
-- for an admin key), so a policy written against it stays safe; it cannot be inlined (its
-- subqueries), so it runs the look-ups for every row: new policies should use the scalar
-- subquery form above. pmsync_authenticate (0003) has had no caller since 0008.
CREATE OR REPLACE FUNCTION pmsync_row_visible(row_hotel text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT row_hotel = (SELECT public.pmsync_key_hotel()) OR (SELECT public.pmsync_key_is_admin())
$$;
DROP FUNCTION pmsync_authenticate(text);
