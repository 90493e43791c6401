-- One DLQ row per distinct failed record. A worker that crashes after sending a reject but
-- before committing its offset sends it again (at-least-once), and a re-sync fetches the same
-- invalid record again; the sink folds both into the first row. `origin` is hotel, stage,
-- config hash and the SHA-256 of the original bytes: a replay after a config fix that fails
-- again is a new row (new config hash); the same bytes failing the same way are not.
ALTER TABLE dlq_messages ADD COLUMN origin text;
CREATE UNIQUE INDEX dlq_messages_origin ON dlq_messages (origin);
