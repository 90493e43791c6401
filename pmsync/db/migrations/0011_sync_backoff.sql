-- A hotel whose syncs keep failing backs off across syncs (pmsync/fetching/backoff.py): the
-- time of its next attempt is kept here so a restarted fetcher keeps the schedule instead of
-- hitting every broken PMS again at once. NULL: no backoff, the hotel follows its poll
-- interval. consecutive_failures (0001) is the count the backoff grows with; a success resets
-- both. The API role reads it through its table-level grant, and row-level security on
-- sync_checkpoints (0002) already covers the new column.
ALTER TABLE sync_checkpoints ADD COLUMN next_attempt_at timestamptz;
