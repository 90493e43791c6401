"""The set-based upsert of canonical bookings (with their guest) and rooms into Postgres.

One batch = one read of which keys are stored (``_PROBE``), then: bookings not stored yet are
COPYed straight into ``bookings`` (the cheapest write there is, the same as a plain COPY);
stored ones that are not older go through a session-local staging table and one ``INSERT …
SELECT … ON CONFLICT``; stored ones that are older are not sent at all. The ``ON CONFLICT``
statement keeps the full rule (``_NOT_OLDER``) and is where a key inserted concurrently ends
up too, so the probe only saves work, it never decides alone: a version of a booking
replaces the stored one only when it is not older, the same input always gives the same rows
whatever order or how often it arrives, and re-reading unchanged bookings writes nothing, not
even a row lock (replays are idempotent). The guest is part of the booking row (``guests`` is
a view); rooms keep first/last seen from the bookings' ``source_updated_at`` (aggregated per
batch here, one row per room), so they are order-independent too.

This module never commits, never swallows a database error and never decides what to do with
a rejected row: the caller owns the transaction (and its savepoints) and the DLQ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import psycopg

STAGE: Final = "pmsync_stage_bookings"

# Staging columns use the target tables' types, so a bad value fails at COPY time with the
# column named in the error context.
_CREATE_STAGE: Final = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGE} (
  hotel_id text, external_id text, status text, check_in date, check_out date,
  room_number text, room_type text, adults integer, children integer,
  total_amount numeric(14,2), currency char(3), source_updated_at timestamptz,
  pms_type text, pms_version text, config_hash text, source_topic text,
  source_partition integer, source_offset bigint,
  guest_first_name text, guest_last_name text, guest_email text, guest_phone text
) ON COMMIT DELETE ROWS"""

_BOOKING_COLUMNS: Final = (
    "hotel_id", "external_id", "status", "check_in", "check_out", "room_number", "room_type",
    "adults", "children", "total_amount", "currency", "source_updated_at", "pms_type",
    "pms_version", "config_hash", "source_topic", "source_partition", "source_offset",
    # One guest per booking, stored on its row (migration 0005; `guests` is a view).
    "guest_first_name", "guest_last_name", "guest_email", "guest_phone")
_COPY: Final = f"COPY {STAGE} ({', '.join(_BOOKING_COLUMNS)}) FROM STDIN"

_UPDATABLE: Final = [c for c in _BOOKING_COLUMNS if c not in ("hotel_id", "external_id")]

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
_UPSERT_BOOKINGS: Final = f"""
INSERT INTO bookings AS b ({', '.join(_BOOKING_COLUMNS)})
SELECT {', '.join(_BOOKING_COLUMNS)} FROM {STAGE}
ON CONFLICT (hotel_id, external_id) DO UPDATE SET
  {', '.join(f'{c} = excluded.{c}' for c in _UPDATABLE)}, loaded_at = now()
WHERE {_NOT_OLDER}"""

_COPY_BOOKINGS: Final = f"COPY bookings ({', '.join(_BOOKING_COLUMNS)}) FROM STDIN"

# Which of the batch's keys are stored, and whether the stored version is newer than the
# incoming one. Postgres parses the incoming times, exactly as COPY will, so the comparison
# is the database's. The unnest's row estimate (100) keeps this a nested loop over the key
# index however big bookings grows.
_PROBE: Final = """
SELECT k.i, b.source_updated_at > k.at
  FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) WITH ORDINALITY AS k(hotel_id, external_id, at, i)
  JOIN bookings AS b ON b.hotel_id = k.hotel_id AND b.external_id = k.external_id"""

# A stale booking still proves the room existed then, so every booking of the batch counts
# for first/last seen; room_type follows the newest sighting only (rooms_of).
_UPSERT_ROOMS: Final = """
INSERT INTO rooms AS r (hotel_id, room_number, room_type, first_seen_at, last_seen_at)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])
ON CONFLICT (hotel_id, room_number) DO UPDATE SET
  room_type = CASE WHEN excluded.last_seen_at >= r.last_seen_at
                   THEN coalesce(excluded.room_type, r.room_type) ELSE r.room_type END,
  first_seen_at = least(r.first_seen_at, excluded.first_seen_at),
  last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at)
-- Most batches only re-sight known rooms: skip the rewrite unless something moves.
WHERE excluded.first_seen_at < r.first_seen_at OR excluded.last_seen_at > r.last_seen_at
   OR (excluded.last_seen_at >= r.last_seen_at AND excluded.room_type IS NOT NULL
       AND excluded.room_type IS DISTINCT FROM r.room_type)"""


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


def newest_per_key(bookings: Sequence[dict]) -> list[int]:
    """Indices (ascending) of the newest version of each (hotel_id, external_id).

    Newest = highest (source_updated_at, source_offset), then the later position in
    ``bookings`` (Kafka order). ON CONFLICT cannot touch one row twice in a statement, so a
    batch must carry one version per key. Every ``source_updated_at`` must already parse
    (see :func:`updated_at_key`).
    """
    best: dict[tuple, tuple] = {}
    for index, booking in enumerate(bookings):
        key = (booking["hotel_id"], booking["external_id"])
        rank = (updated_at_key(booking["source_updated_at"]), booking["source_offset"], index)
        current = best.get(key)
        if current is None or rank > current:
            best[key] = rank
    return sorted(rank[2] for rank in best.values())


def rooms_of(bookings: Sequence[dict]) -> list[tuple]:
    """One row per (hotel_id, room_number) of ``bookings``, sorted by that key (so two writers
    lock rooms in the same order): the newest sighting's non-null room_type, and the first and
    last ``source_updated_at`` as sent (Postgres parses them). Aggregated here rather than in
    SQL: it is one pass over dicts already in memory, and it spares staging and sorting there.
    """
    rooms: dict[tuple, list] = {}
    for b in bookings:
        number = b.get("room_number")
        if number is None:
            continue
        text = b["source_updated_at"]
        at = updated_at_key(text)
        room_type = b.get("room_type")
        room = rooms.get((b["hotel_id"], number))
        if room is None:
            rooms[(b["hotel_id"], number)] = [room_type, at if room_type is not None else None,
                                               at, text, at, text]
            continue
        if room_type is not None and (room[1] is None or at >= room[1]):
            room[0], room[1] = room_type, at
        if at < room[2]:
            room[2], room[3] = at, text
        if at > room[4]:
            room[4], room[5] = at, text
    return [(hotel, number, room[0], room[3], room[5])
            for (hotel, number), room in sorted(rooms.items(), key=lambda item: item[0])]


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

    def upsert(self, bookings: Sequence[dict]) -> UpsertResult:
        """Stage and upsert in the connection's current transaction (keys must be unique).

        Raises the database's error unchanged (e.g. ``psycopg.errors.DataError`` for a value
        Postgres rejects); the caller rolls back to its savepoint and decides.
        """
        if not bookings:
            return UpsertResult(0, 0, 0)
        with self.conn.cursor() as cur:
            stored = dict(cur.execute(_PROBE, ([b["hotel_id"] for b in bookings],
                                               [b["external_id"] for b in bookings],
                                               [b["source_updated_at"] for b in bookings])).fetchall())
            fresh = [b for i, b in enumerate(bookings, 1) if i not in stored]
            known = [b for i, b in enumerate(bookings, 1) if stored.get(i) is False]
            written = self._insert(cur, fresh) + self._update(cur, known)
            if not self.with_rooms:
                return UpsertResult(len(bookings), written, 0)
            rooms = rooms_of(bookings)
            if not rooms:
                return UpsertResult(len(bookings), written, 0)
            cur.execute(_UPSERT_ROOMS, [list(column) for column in zip(*rooms)])
            return UpsertResult(len(bookings), written, cur.rowcount)

    def _insert(self, cur: psycopg.Cursor, bookings: Sequence[dict]) -> int:
        """COPY bookings the probe found no stored version of; their count."""
        if not bookings:
            return 0
        try:
            with self.conn.transaction():  # a savepoint, so a lost race below leaves the batch usable
                with cur.copy(_COPY_BOOKINGS) as copy:
                    _write_rows(copy, bookings)
        except psycopg.errors.UniqueViolation:
            # The batch's keys are unique, so this is another writer (a loader during a
            # rebalance) that stored one of these keys since the probe: let ON CONFLICT settle them.
            return self._update(cur, bookings)
        return len(bookings)

    def _update(self, cur: psycopg.Cursor, bookings: Sequence[dict]) -> int:
        """Upsert bookings through staging and ON CONFLICT; the number inserted or updated."""
        if not bookings:
            return 0
        # Staging may hold an earlier attempt of this same transaction (bisecting a batch).
        cur.execute(f"DELETE FROM {STAGE}")
        with cur.copy(_COPY) as copy:
            _write_rows(copy, bookings)
        cur.execute(_UPSERT_BOOKINGS)
        return cur.rowcount


def _write_rows(copy: psycopg.Copy, bookings: Sequence[dict]) -> None:
    """Rows in _BOOKING_COLUMNS order; a missing children count is 0 (the column's default)."""
    write = copy.write_row
    for b in bookings:
        g = b.get("guest") or {}
        children = b.get("children")
        write((b["hotel_id"], b["external_id"], b["status"], b["check_in"], b["check_out"],
               b.get("room_number"), b.get("room_type"), b.get("adults"),
               0 if children is None else children,
               b.get("total_amount"), b.get("currency"), b["source_updated_at"],
               b["pms_type"], b["pms_version"], b["config_hash"], b["source_topic"],
               b["source_partition"], b["source_offset"],
               g.get("first_name"), g.get("last_name"), g.get("email"), g.get("phone")))
