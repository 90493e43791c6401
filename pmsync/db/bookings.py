"""The set-based upsert of canonical bookings (with their guest) and rooms into Postgres.

One batch = one COPY into a session-local staging table, then one ``INSERT … SELECT … ON
CONFLICT`` per table. A version of a booking replaces the stored one only when it is not
older (see ``_NOT_OLDER``), so the same input always gives the same rows whatever order or
how often it arrives, and re-reading unchanged bookings writes nothing (replays are idempotent).
The guest is part of the booking row (``guests`` is a view); rooms keep first/last seen from
the bookings' ``source_updated_at``, so they are order-independent too.

This module never commits, never swallows a database error and never decides what to do with
a rejected row: the caller owns the transaction (and its savepoints) and the DLQ.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import psycopg

from pmsync.serde.copy_text import STAGE_COLUMNS

STAGE: Final = "pmsync_stage_bookings"

# Staging columns use the target tables' types, so a bad value fails at COPY time with the
# column named in the error context. They are in the order of the booking's Avro fields
# (STAGE_COLUMNS): the loader writes COPY lines straight from the Avro bytes.
_STAGE_TYPES: Final = {
    "external_id": "text", "status": "text", "check_in": "date", "check_out": "date",
    "guest_first_name": "text", "guest_last_name": "text", "guest_email": "text",
    "guest_phone": "text", "room_number": "text", "room_type": "text", "adults": "integer",
    "children": "integer", "total_amount": "numeric(14,2)", "currency": "char(3)",
    "source_updated_at": "timestamptz", "hotel_id": "text", "pms_type": "text",
    "pms_version": "text", "config_hash": "text", "source_topic": "text",
    "source_partition": "integer", "source_offset": "bigint",
}
_CREATE_STAGE: Final = (f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
                        + ", ".join(f"{c} {_STAGE_TYPES[c]}" for c in STAGE_COLUMNS)
                        + ") ON COMMIT DELETE ROWS")

_COPY: Final = f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN"

_UPDATABLE: Final = [c for c in STAGE_COLUMNS if c not in ("hotel_id", "external_id")]
_SELECT_BOOKING: Final = ", ".join("coalesce(children, 0)" if c == "children" else c
                                   for c in STAGE_COLUMNS)

# A version replaces the stored one when it is newer (source_updated_at), or when it has the
# same source_updated_at, a raw offset not lower (a hotel's raw messages share one partition, so
# ties resolve the same way on every replay) and different content. Re-reading an unchanged
# booking (a re-sync, a replay) therefore writes nothing, not even lineage.
_CONTENT: Final = ("status", "check_in", "check_out", "room_number", "room_type", "adults",
                   "children", "total_amount", "currency", "guest_first_name", "guest_last_name",
                   "guest_email", "guest_phone")
_NOT_OLDER: Final = (
    "excluded.source_updated_at > b.source_updated_at"
    " OR (excluded.source_updated_at = b.source_updated_at"
    " AND excluded.source_offset >= b.source_offset"
    f" AND ({', '.join('excluded.' + c for c in _CONTENT)})"
    f" IS DISTINCT FROM ({', '.join('b.' + c for c in _CONTENT)}))")

# No ORDER BY: sorting cost more than it saved in bench/loader.py. Two loaders only write the
# same keys during a rebalance; a deadlock then fails the batch, which is retried whole.
# Measured and not kept (bench/loader.py, 2026-11-25): probing the batch's keys first and
# COPYing the new ones straight into bookings (COPY parses each value there, so it was no
# cheaper than INSERT … SELECT from the already-typed staging rows, and the probe added
# ~5 µs/row); a NOT EXISTS filter to spare stale rows their ON CONFLICT row lock (the planner
# may answer it from the keyset index or a hash join, and new rows pay one more index probe);
# plain INSERT without ON CONFLICT (speculative insertion cost nothing measurable).
_UPSERT_BOOKINGS: Final = f"""
INSERT INTO bookings AS b ({', '.join(STAGE_COLUMNS)})
SELECT {_SELECT_BOOKING} FROM {STAGE}
ON CONFLICT (hotel_id, external_id) DO UPDATE SET
  {', '.join(f'{c} = excluded.{c}' for c in _UPDATABLE)}, loaded_at = now()
WHERE {_NOT_OLDER}"""

# A stale booking still proves the room existed then, so every staged row counts for
# first/last seen; room_type follows the newest sighting only. A sighting moves a stored room
# when it is earlier, later, or newest with another type (_ROOM_MOVES, true when `new` has to
# be written over `old`).
_ROOM_MOVES: Final = """(new.first_seen_at < old.first_seen_at OR new.last_seen_at > old.last_seen_at
   OR (new.last_seen_at >= old.last_seen_at AND new.room_type IS NOT NULL
       AND new.room_type IS DISTINCT FROM old.room_type))"""
# Most batches only re-sight known rooms. ON CONFLICT would lock (and so write) each of those
# rows even when its WHERE then skips the update, so sightings that move nothing are left out
# first: rooms upserts cost 20% less Postgres time with the pipeline benchmark's rooms
# (2026-11-26); a new room pays one more index probe.
_UPSERT_ROOMS: Final = f"""
INSERT INTO rooms AS old (hotel_id, room_number, room_type, first_seen_at, last_seen_at)
SELECT * FROM (
  SELECT hotel_id, room_number,
         (array_agg(room_type ORDER BY source_updated_at DESC) FILTER (WHERE room_type IS NOT NULL))[1]
           AS room_type,
         min(source_updated_at) AS first_seen_at, max(source_updated_at) AS last_seen_at
    FROM {STAGE} WHERE room_number IS NOT NULL AND source_updated_at IS NOT NULL
   GROUP BY hotel_id, room_number) AS new
 WHERE NOT EXISTS (SELECT FROM rooms AS old
                    WHERE old.hotel_id = new.hotel_id AND old.room_number = new.room_number
                      AND NOT {_ROOM_MOVES})
 ORDER BY hotel_id, room_number
ON CONFLICT (hotel_id, room_number) DO UPDATE SET
  room_type = CASE WHEN excluded.last_seen_at >= old.last_seen_at
                   THEN coalesce(excluded.room_type, old.room_type) ELSE old.room_type END,
  first_seen_at = least(old.first_seen_at, excluded.first_seen_at),
  last_seen_at = greatest(old.last_seen_at, excluded.last_seen_at)
WHERE {_ROOM_MOVES.replace("new.", "excluded.")}"""


@dataclass(frozen=True)
class UpsertResult:
    staged: int      # rows sent (keys unique)
    written: int     # booking rows (with their guest) inserted or updated
    rooms: int       # room rows inserted or updated

    @property
    def stale(self) -> int:
        """Staged rows the database kept its newer version of."""
        return self.staged - self.written


def updated_at_key(value: object) -> datetime:
    """``source_updated_at`` as an aware datetime; ValueError names the bad value."""
    if not isinstance(value, str):
        raise ValueError(f"source_updated_at {value!r} is not an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"source_updated_at {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"source_updated_at {value!r} has no UTC offset (expected …Z)")
    return parsed


def newest_per_key(versions: Sequence[tuple[Hashable, datetime, int]]) -> list[int]:
    """Indices (ascending) of the newest of each key's versions: ``(key, source_updated_at,
    source_offset)`` with the key being (hotel_id, external_id) and the time parsed by
    :func:`updated_at_key`.

    Newest = highest (source_updated_at, source_offset), then the later position in
    ``versions`` (Kafka order). ON CONFLICT cannot touch one row twice in a statement, so a
    batch must carry one version per key.
    """
    best: dict[Hashable, tuple] = {}
    for index, (key, updated_at, offset) in enumerate(versions):
        rank = (updated_at, offset, index)
        current = best.get(key)
        if current is None or rank > current:
            best[key] = rank
    return sorted(rank[2] for rank in best.values())


class BookingStore:
    """Upserts batches of bookings on one owner connection (one per loader process).

    ``with_rooms=False`` exists for the benchmark's comparison only.
    """

    def __init__(self, conn: psycopg.Connection, *, with_rooms: bool = True) -> None:
        self.conn = conn
        self.with_rooms = with_rooms
        # Created once per session (not per batch): DDL per batch would churn the catalog.
        with conn.transaction():
            conn.execute(_CREATE_STAGE)

    def upsert(self, lines: Sequence[bytes]) -> UpsertResult:
        """Stage COPY lines (``pmsync.serde.copy_text``: one booking each, keys unique) and
        upsert them in the connection's current transaction.

        Raises the database's error unchanged (e.g. ``psycopg.errors.DataError`` for a value
        Postgres rejects); the caller rolls back to its savepoint and decides.
        """
        if not lines:
            return UpsertResult(0, 0, 0)
        with self.conn.cursor() as cur:
            # Staging may hold an earlier attempt of this same transaction (bisecting a batch).
            cur.execute(f"DELETE FROM {STAGE}")
            with cur.copy(_COPY) as copy:
                copy.write(b"\n".join(lines) + b"\n")
            cur.execute(_UPSERT_BOOKINGS)
            written = cur.rowcount
            if not self.with_rooms:
                return UpsertResult(len(lines), written, 0)
            cur.execute(_UPSERT_ROOMS)
            return UpsertResult(len(lines), written, cur.rowcount)
