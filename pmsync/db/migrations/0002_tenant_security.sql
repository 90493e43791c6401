-- Row-level security: the API role sees a tenant row only when the transaction has set
-- pmsync.hotel_id to that row's hotel (or pmsync.role to 'admin', for admin routes).
-- The owner role (pipeline services) is not subject to these policies.
CREATE FUNCTION pmsync_row_visible(row_hotel text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('pmsync.role', true), '') = 'admin'
      OR row_hotel = nullif(current_setting('pmsync.hotel_id', true), '')
$$;

ALTER TABLE hotels ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hotels USING (pmsync_row_visible(id));

ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bookings USING (pmsync_row_visible(hotel_id));

ALTER TABLE guests ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON guests USING (pmsync_row_visible(hotel_id));

ALTER TABLE rooms ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rooms USING (pmsync_row_visible(hotel_id));

ALTER TABLE sync_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sync_checkpoints USING (pmsync_row_visible(hotel_id));

ALTER TABLE dlq_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dlq_messages USING (pmsync_row_visible(hotel_id));

GRANT USAGE ON SCHEMA public TO pmsync_api;
GRANT SELECT ON hotels, bookings, guests, rooms, sync_checkpoints TO pmsync_api;
GRANT SELECT, UPDATE ON dlq_messages TO pmsync_api;
GRANT SELECT, INSERT, UPDATE ON pms_configs TO pmsync_api;

-- The API role cannot read api_keys; it resolves a key hash through this function only.
CREATE FUNCTION pmsync_authenticate(p_key_hash text)
RETURNS TABLE (key_id bigint, hotel_id text, is_admin boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT id, hotel_id, is_admin FROM api_keys
   WHERE key_hash = p_key_hash AND revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION pmsync_authenticate(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pmsync_authenticate(text) TO pmsync_api;
