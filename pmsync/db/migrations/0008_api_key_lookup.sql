-- The API role looks its key up in api_keys itself, through row-level security, instead of
-- calling pmsync_authenticate. That function is SECURITY DEFINER with a SET clause, so
-- Postgres never inlines it: every call re-plans its body and saves and restores the GUCs.
-- Alone, that was 0.13 ms of the backend per request against 0.06 ms for the policy form
-- (set the hash, then an index look-up whose generic plan is reused); under bench/api.py's
-- saturating load the backend's CPU per deep list page fell from 0.79 to 0.60 ms, per first
-- page from 0.59 to 0.36 ms (2026-11-26).
--
-- What the API role can see is unchanged: only the row of a key whose hash it already holds
-- (the hash it put in the transaction-local pmsync.key_hash), only while that key is not
-- revoked, and only the columns authentication needs (id, hash, hotel, kind, revocation: the
-- look-up names hash and revocation itself, see services/api/auth.py). It cannot list keys,
-- read a hash it did not bring, see a row without its hash, or read prefixes, names or
-- creation times (no privilege, so SELECT * fails).
-- The owner role (CLI, key creation and revocation) owns the table and is not subject to
-- the policy.
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY key_lookup ON api_keys FOR SELECT TO pmsync_api
  USING (key_hash = current_setting('pmsync.key_hash', true) AND revoked_at IS NULL);
GRANT SELECT (id, key_hash, hotel_id, is_admin, revoked_at) ON api_keys TO pmsync_api;
-- pmsync_authenticate stays (as safe as before) so API processes still running the previous
-- release keep answering during a rolling deploy; a later migration can drop it.
