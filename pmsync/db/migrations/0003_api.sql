-- The bookings list pages through one hotel's bookings in (source_updated_at, external_id)
-- order with a keyset cursor; this index makes every page, first or deep, one index range
-- scan. It covers what bookings_hotel_updated (its prefix) served, so that index is replaced
-- and the loader's upsert maintains no more indexes than before.
DROP INDEX IF EXISTS bookings_hotel_updated;
CREATE INDEX bookings_hotel_updated_id ON bookings (hotel_id, source_updated_at, external_id);
