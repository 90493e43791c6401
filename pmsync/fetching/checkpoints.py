"""``sync_checkpoints``: each hotel's delta cursor and sync status (plain SQL, owner role).

The one rule this module keeps: ``delta_cursor`` changes only in ``succeed``, which the sync
calls after Kafka acknowledged every message of the whole sync. ``fail`` records what went
wrong and counts it, and never touches the cursor, so a failed or crashed sync re-reads the
same window next time instead of skipping it. Error texts stored here are the fetcher's own
messages, which never contain credentials.

A counted failure also sets ``next_attempt_at`` from the hotel's backoff (``backoff.py``) in
the same transaction, so the schedule survives a restart; ``succeed`` clears both the count
and the backoff. The store remembers the last backoff it wrote per hotel for the runner
(``take_backoff``), so scheduling never costs another round trip.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool

from pmsync.fetching.backoff import BackoffPolicy

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
    next_attempt_at: datetime | None = None


_CHECKPOINT = ("hotel_id, delta_cursor, last_fetch_id, last_attempt_at, last_success_at, "
               "last_error, last_error_at, consecutive_failures, records_fetched, next_attempt_at")


class CheckpointStore:
    def __init__(self, pool: ConnectionPool, backoff: BackoffPolicy | None = None) -> None:
        self.pool = pool
        self.backoff = backoff or BackoffPolicy()
        self._backoffs: dict[str, float] = {}
        self._lock = threading.Lock()   # fail/succeed run on worker threads

    def load(self, hotel_id: str) -> Checkpoint:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_CHECKPOINT} FROM sync_checkpoints WHERE hotel_id = %s",
                               (hotel_id,)).fetchone()
        return Checkpoint(*row) if row else Checkpoint(hotel_id)

    def start(self, hotel_id: str, fetch_id: str) -> Checkpoint:
        """Note the attempt and return the checkpoint the sync starts from (one round trip)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"""INSERT INTO sync_checkpoints (hotel_id, last_fetch_id, last_attempt_at)
                    VALUES (%s, %s, now())
                    ON CONFLICT (hotel_id) DO UPDATE
                       SET last_fetch_id = excluded.last_fetch_id,
                           last_attempt_at = excluded.last_attempt_at, updated_at = now()
                    RETURNING {_CHECKPOINT}""",
                (hotel_id, fetch_id)).fetchone()
        return Checkpoint(*row)

    def backoffs(self) -> dict[str, float]:
        """Seconds each backing-off hotel must still wait, from the database (for a fresh
        start: the schedule a previous process left). Measured on the database's clock, so a
        skew between hosts cannot shorten or stretch it."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                """SELECT hotel_id, extract(epoch FROM next_attempt_at - now())::float8
                     FROM sync_checkpoints WHERE next_attempt_at > now()""").fetchall()
        return dict(rows)

    def take_backoff(self, hotel_id: str) -> float | None:
        """Seconds from its last failure to the hotel's next attempt, as the last ``fail`` of
        this store wrote it; None after a success, an uncounted failure, or none at all."""
        with self._lock:
            return self._backoffs.pop(hotel_id, None)

    def succeed(self, hotel_id: str, fetch_id: str, delta_cursor: str, records: int) -> None:
        """Advance the cursor: call only after every message of the sync was acknowledged.
        Ends any backoff: the hotel is healthy again."""
        with self._lock:
            self._backoffs.pop(hotel_id, None)
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO sync_checkpoints (hotel_id, delta_cursor, last_fetch_id,
                                                 last_attempt_at, last_success_at, records_fetched)
                   VALUES (%s, %s, %s, now(), now(), %s)
                   ON CONFLICT (hotel_id) DO UPDATE
                      SET delta_cursor = excluded.delta_cursor,
                          last_fetch_id = excluded.last_fetch_id,
                          last_success_at = now(), consecutive_failures = 0,
                          next_attempt_at = NULL,
                          records_fetched = sync_checkpoints.records_fetched + excluded.records_fetched,
                          updated_at = now()""",
                (hotel_id, delta_cursor, fetch_id, records))

    def fail(self, hotel_id: str, fetch_id: str, message: str, *, counts: bool = True) -> None:
        """Record a failed sync; the cursor stays where it was.

        A counted failure (the default: the hotel's own) adds to ``consecutive_failures`` and
        schedules the next attempt by the backoff policy. ``counts=False`` is for a sync that
        never reached the hotel's PMS (its host's circuit was open): the error is shown, but
        the hotel's count and schedule are left alone, since nothing is known about it."""
        with self.pool.connection() as conn, conn.transaction():
            if not counts:
                conn.execute(
                    """INSERT INTO sync_checkpoints (hotel_id, last_fetch_id, last_attempt_at,
                                                     last_error, last_error_at)
                       VALUES (%s, %s, now(), %s, now())
                       ON CONFLICT (hotel_id) DO UPDATE
                          SET last_fetch_id = excluded.last_fetch_id,
                              last_error = excluded.last_error, last_error_at = now(),
                              updated_at = now()""",
                    (hotel_id, fetch_id, message[:MAX_ERROR_CHARS]))
                return
            failures, interval = conn.execute(
                """INSERT INTO sync_checkpoints (hotel_id, last_fetch_id, last_attempt_at, last_error,
                                                 last_error_at, consecutive_failures)
                   VALUES (%s, %s, now(), %s, now(), 1)
                   ON CONFLICT (hotel_id) DO UPDATE
                      SET last_fetch_id = excluded.last_fetch_id,
                          last_error = excluded.last_error, last_error_at = now(),
                          consecutive_failures = sync_checkpoints.consecutive_failures + 1,
                          updated_at = now()
                   RETURNING consecutive_failures,
                             (SELECT poll_interval_s FROM hotels WHERE id = %s)""",
                (hotel_id, fetch_id, message[:MAX_ERROR_CHARS], hotel_id)).fetchone()
            delay = self.backoff.delay_s(failures, interval or 60)
            conn.execute("""UPDATE sync_checkpoints
                               SET next_attempt_at = last_error_at + make_interval(secs => %s)
                             WHERE hotel_id = %s""", (delay, hotel_id))
        with self._lock:
            self._backoffs[hotel_id] = delay
