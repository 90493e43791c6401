"""``sync_checkpoints``: each hotel's delta cursor and sync status (plain SQL, owner role).

The one rule this module keeps: ``delta_cursor`` changes only in ``succeed``, which the sync
calls after Kafka acknowledged every message of the whole sync. ``fail`` records what went
wrong and counts it, and never touches the cursor, so a failed or crashed sync re-reads the
same window next time instead of skipping it. Error texts stored here are the fetcher's own
messages, which never contain credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool

# Long enough to read, short enough that a runaway message cannot bloat the row.
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Checkpoint:
    hotel_id: str
    delta_cursor: str | None = None
    last_fetch_id: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    records_fetched: int = 0


class CheckpointStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def load(self, hotel_id: str) -> Checkpoint:
        with self.pool.connection() as conn:
            row = conn.execute(
                """SELECT hotel_id, delta_cursor, last_fetch_id, last_attempt_at, last_success_at,
                          last_error, last_error_at, consecutive_failures, records_fetched
                     FROM sync_checkpoints WHERE hotel_id = %s""", (hotel_id,)).fetchone()
        return Checkpoint(*row) if row else Checkpoint(hotel_id)

    def start(self, hotel_id: str, fetch_id: str) -> Checkpoint:
        """Note the attempt and return the checkpoint the sync starts from."""
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO sync_checkpoints (hotel_id, last_fetch_id, last_attempt_at)
                   VALUES (%s, %s, now())
                   ON CONFLICT (hotel_id) DO UPDATE
                      SET last_fetch_id = excluded.last_fetch_id,
                          last_attempt_at = excluded.last_attempt_at, updated_at = now()""",
                (hotel_id, fetch_id))
        return self.load(hotel_id)

    def succeed(self, hotel_id: str, fetch_id: str, delta_cursor: str, records: int) -> None:
        """Advance the cursor: call only after every message of the sync was acknowledged."""
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO sync_checkpoints (hotel_id, delta_cursor, last_fetch_id,
                                                 last_attempt_at, last_success_at, records_fetched)
                   VALUES (%s, %s, %s, now(), now(), %s)
                   ON CONFLICT (hotel_id) DO UPDATE
                      SET delta_cursor = excluded.delta_cursor,
                          last_fetch_id = excluded.last_fetch_id,
                          last_success_at = now(), consecutive_failures = 0,
                          records_fetched = sync_checkpoints.records_fetched + excluded.records_fetched,
                          updated_at = now()""",
                (hotel_id, delta_cursor, fetch_id, records))

    def fail(self, hotel_id: str, fetch_id: str, message: str) -> None:
        """Record a failed sync; the cursor stays where it was."""
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO sync_checkpoints (hotel_id, last_fetch_id, last_attempt_at, last_error,
                                                 last_error_at, consecutive_failures)
                   VALUES (%s, %s, now(), %s, now(), 1)
                   ON CONFLICT (hotel_id) DO UPDATE
                      SET last_fetch_id = excluded.last_fetch_id,
                          last_error = excluded.last_error, last_error_at = now(),
                          consecutive_failures = sync_checkpoints.consecutive_failures + 1,
                          updated_at = now()""",
                (hotel_id, fetch_id, message[:MAX_ERROR_CHARS]))
