"""Storing one loader batch: decode, keep the newest version per key, upsert, isolate rejects.

The whole batch is one database transaction. A message that does not decode, or a row
Postgres rejects, becomes a :class:`Reject` (with the original message, for the DLQ) and the
rest of the batch is stored: a failing set is bisected under savepoints until the bad rows
stand alone. Every message of the batch ends up counted as written, stale, superseded or
rejected; none is dropped without a trace.

This module never talks to Kafka and never commits offsets: the consumer loop publishes the
rejects and commits after :func:`store_batch` returns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import psycopg

from pmsync.db.bookings import BookingStore, UpsertResult, newest_per_key, updated_at_key
from pmsync.errors import PMSLoadError
from pmsync.loader.batch import Batch, Message
from pmsync.serde.avro import decode_booking
from pmsync.serde.copy_text import StagedBooking, staged_booking

# What a single row can cause: a bad value (22xxx), a constraint (23xxx), a value too big
# for an index (54xxx, e.g. a 10 kB external_id), text Postgres cannot hold. Anything else
# (connection lost, deadlock, a bug in SQL) fails the whole batch so it is retried.
_ROW_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError,
               psycopg.errors.ProgramLimitExceeded, UnicodeError)
_COPY_COLUMN = re.compile(r"column (\w+)")


@dataclass(frozen=True)
class Reject:
    message: Message
    error: PMSLoadError
    booking: dict | None = None   # the decoded booking, when decoding worked


@dataclass
class BatchOutcome:
    messages: int = 0
    written: int = 0       # booking rows inserted or updated
    stale: int = 0         # the database already had a newer version
    superseded: int = 0    # a newer version of the same booking was in the same batch
    rooms: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def add(self, result: UpsertResult) -> None:
        self.written += result.written
        self.stale += result.stale
        self.rooms += result.rooms


class _Item(NamedTuple):
    message: Message
    staged: StagedBooking
    updated_at: datetime


def decode(batch: Batch) -> tuple[list[_Item], list[Reject]]:
    """Staged bookings in batch order, and the messages that are not bookings we can order."""
    items: list[_Item] = []
    rejects: list[Reject] = []
    for message in batch.messages:
        if message.value is None:
            rejects.append(Reject(message, PMSLoadError("message has no value (a tombstone?); "
                                                        "the bookings topic carries only bookings")))
            continue
        try:
            staged = staged_booking(message.value)
            updated_at = updated_at_key(staged.source_updated_at.decode())
        except Exception:  # noqa: BLE001 - the slow path below says what is wrong, or raises
            rejects.append(_not_stageable(message))
            continue
        if not staged.has_adults:
            # Checked here rather than left to the NOT NULL constraint: a config that never
            # maps adults would otherwise make every batch bisect down to single rows.
            booking = decode_booking(message.value)
            rejects.append(Reject(message, PMSLoadError(
                f"booking {_cut(booking['hotel_id'])}/{_cut(booking['external_id'])}: adults is null, "
                f"but the booking store requires it; map adults in the PMS config (a path, the "
                f"count transform, or a default)", field="adults"), booking))
            continue
        items.append(_Item(message, staged, updated_at))
    return items, rejects


def _not_stageable(message: Message) -> Reject:
    """Why ``staged_booking`` refused a message, in words: ``decode_booking`` reads it again
    (only broken messages come here, so its cost does not matter)."""
    try:
        booking = decode_booking(message.value)
    except PMSLoadError as exc:
        return Reject(message, exc)
    try:
        updated_at_key(booking["source_updated_at"])
    except ValueError as exc:
        return Reject(message, PMSLoadError(f"{exc}; it orders versions of a booking, so it must "
                                            f"be an ISO 8601 UTC time", field="source_updated_at"), booking)
    # The two readers disagree: a bug. Dead-letter it (replayable) rather than guess.
    return Reject(message, PMSLoadError("the loader's COPY reader refused a booking the Avro "
                                        "reader accepts; report this message (a loader bug)"), booking)


def store_batch(store: BookingStore, batch: Batch) -> BatchOutcome:
    """Store ``batch`` in one committed transaction; the outcome lists what must go to the DLQ.

    Raises (with nothing committed) only for errors that are not about a row, e.g. the
    database being unreachable; the caller retries the same batch.
    """
    outcome = BatchOutcome(messages=len(batch))
    items, outcome.rejects = decode(batch)
    keep = newest_per_key([((i.staged.hotel_id, i.staged.external_id), i.updated_at,
                            i.staged.source_offset) for i in items])
    outcome.superseded = len(items) - len(keep)
    newest = [items[i] for i in keep]
    with store.conn.transaction():
        _upsert_isolating(store, newest, outcome)
    return outcome


def _upsert_isolating(store: BookingStore, items: Sequence[_Item], outcome: BatchOutcome) -> None:
    if not items:
        return
    try:
        with store.conn.transaction():  # a savepoint: a failure here leaves the batch usable
            result = store.upsert([item.staged.line for item in items])
    except _ROW_ERRORS as exc:
        if len(items) == 1:
            booking = decode_booking(items[0].message.value)
            outcome.rejects.append(Reject(items[0].message, _rejected(booking, exc), booking))
            return
        middle = len(items) // 2
        _upsert_isolating(store, items[:middle], outcome)
        _upsert_isolating(store, items[middle:], outcome)
        return
    outcome.add(result)


def _rejected(booking: dict, exc: Exception) -> PMSLoadError:
    """A DLQ-ready error naming the booking, the column and what Postgres said."""
    where = f"booking {_cut(booking.get('hotel_id'))}/{_cut(booking.get('external_id'))}"
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        column = diag.column_name
        if not column and diag.context:
            found = _COPY_COLUMN.search(diag.context)
            column = found.group(1) if found else None
        if not column:
            column = _field_with_nul(booking)  # Postgres names no column for a NUL byte
        reason = diag.message_primary or str(exc).splitlines()[0]
        extra = f" (constraint {diag.constraint_name})" if diag.constraint_name else ""
        code = f" [SQLSTATE {exc.sqlstate}]" if exc.sqlstate else ""
        return PMSLoadError(f"Postgres rejected {where}: {reason}{extra}{code}; "
                            f"fix the mapping of {column or 'the value'} and replay", field=column)
    return PMSLoadError(f"cannot store {where}: {type(exc).__name__}: {exc}")


def _field_with_nul(booking: dict) -> str | None:
    for name, value in {**booking, **(booking.get("guest") or {})}.items():
        if isinstance(value, str) and "\x00" in value:
            return name
    return None


def _cut(value: object, limit: int = 80) -> str:
    # An id long enough to be the problem must not also swamp the message.
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"
