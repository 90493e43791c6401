-- A replayed record that fails again comes back to its own row, not as a trace-less no-op:
-- `pms.replay_of` (the row id) and `pms.replay_attempt` (which replay of it) travel with the
-- replay, and the DLQ sink folds the new failure into that row. The row goes back to failed
-- (replayed_at NULL, so `pmsync dlq replay --all-matching` and the pending counts pick it up
-- again), counts the failure in `attempts`, shows the latest reason, and keeps the one before
-- it in `history`. `last_replayed_at` keeps when it was last replayed either way.
ALTER TABLE dlq_messages
  ADD COLUMN attempts         integer     NOT NULL DEFAULT 1,
  ADD COLUMN last_failed_at   timestamptz,
  ADD COLUMN last_replayed_at timestamptz,
  ADD COLUMN history          jsonb       NOT NULL DEFAULT '[]';
UPDATE dlq_messages SET last_failed_at = failed_at, last_replayed_at = replayed_at;

-- A DLQ message is identified by its topic too. Keyed on (partition, offset) only, a DLQ
-- topic created again (offsets restart at 0), or a second pipeline's DLQ topic on the same
-- database, had its rejects dropped silently as "already stored". Rows from before this
-- migration have no topic; NULLs never conflict, and `origin` still folds their re-deliveries.
ALTER TABLE dlq_messages ADD COLUMN dlq_topic text;
ALTER TABLE dlq_messages DROP CONSTRAINT IF EXISTS dlq_messages_dlq_partition_dlq_offset_key;
CREATE UNIQUE INDEX dlq_messages_position ON dlq_messages (dlq_topic, dlq_partition, dlq_offset);
