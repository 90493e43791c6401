"""Canonical bookings as lines of Postgres COPY text, read straight from their Avro bytes.

Why this exists: the loader used to turn each Avro booking into Python values (a str per
field, then a dict) only for psycopg to turn them back into COPY text. Avro strings and COPY
text are both UTF-8, so ``staged_booking`` slices each string out of the message and writes it
through; decoding and formatting were two thirds of the loader's own CPU per booking
(bench/loader.py, bench/pipeline.py).

The line's columns are the booking's fields in schema order (``STAGE_COLUMNS``), which the
loader's staging table takes. ``copy_line`` formats a booking dict the same way: it is the
reference the Avro path is tested against (tests/unit/test_copy_text.py), and what callers
holding dicts use.

Strictness matches :func:`pmsync.serde.avro.decode_booking`: anything it refuses raises here
too (ValueError or IndexError, without a reason fit for a human: the loader then asks
``decode_booking`` why, which happens only for broken messages).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from pmsync.booking import FIELDS, LINEAGE_FIELDS, STATUSES
from pmsync.serde.avro import (FINGERPRINT, HEADER_SIZE, KIND_LONG, KIND_OPTIONAL_INT,
                               KIND_OPTIONAL_STRING, MAGIC, ROW_KINDS, STATUS_POSITION, read_fields)

# Staging columns in the order the Avro body holds them ("guest.first_name" → guest_first_name).
STAGE_COLUMNS: Final = tuple(name.replace(".", "_") for name in FIELDS + LINEAGE_FIELDS)
NULL: Final = b"\\N"

_HEADER: Final = MAGIC + FINGERPRINT
_STATUS_TEXT: Final = tuple(s.encode() for s in STATUSES)
_SEPARATORS: Final = len(STAGE_COLUMNS) - 1
_EXTERNAL_ID, _ADULTS, _UPDATED_AT = (STAGE_COLUMNS.index(c) for c in
                                      ("external_id", "adults", "source_updated_at"))
_HOTEL_ID, _OFFSET = STAGE_COLUMNS.index("hotel_id"), STAGE_COLUMNS.index("source_offset")
_NULLABLE_OR_INT: Final = tuple(i for i, kind in enumerate(ROW_KINDS)
                                if kind in (KIND_OPTIONAL_STRING, KIND_OPTIONAL_INT, KIND_LONG))
# COPY text escapes (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format").
_ESCAPES: Final = ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"))


class StagedBooking(NamedTuple):
    """One booking's COPY line (no newline) and what orders its versions."""

    line: bytes
    hotel_id: bytes
    external_id: bytes
    source_updated_at: bytes
    source_offset: int
    has_adults: bool


def staged_booking(data: bytes) -> StagedBooking:
    """The COPY line of single-object encoded booking bytes (see the module docstring)."""
    if data[:HEADER_SIZE] != _HEADER:
        raise ValueError("not a booking of this schema")
    parts, end = read_fields(data, HEADER_SIZE)
    if end != len(data):
        raise ValueError("bytes after the body")
    nulls, offset = parts.count(None), parts[_OFFSET]
    parts[STATUS_POSITION] = _STATUS_TEXT[parts[STATUS_POSITION]]
    for position in _NULLABLE_OR_INT:
        value = parts[position]
        if value is None:
            parts[position] = NULL
        elif type(value) is int:
            parts[position] = b"%d" % value
    line = b"\t".join(parts)
    # Nearly every line needs no escaping: check the whole line at once (memchr-fast) and
    # escape field by field only when a value holds a tab, newline, CR or backslash (a value
    # that reads "\N" is a different object from NULL, so it is escaped, not taken for null).
    if line.count(b"\t") != _SEPARATORS or line.count(b"\\") != nulls or b"\n" in line or b"\r" in line:
        line = b"\t".join(p if p is NULL else _escape(p) for p in parts)
    line.decode()  # UTF-8 check, as decode_booking's str decoding does: UnicodeDecodeError
    return StagedBooking(line, parts[_HOTEL_ID], parts[_EXTERNAL_ID], parts[_UPDATED_AT],
                         offset, parts[_ADULTS] is not NULL)


def copy_line(booking: dict) -> bytes:
    """The COPY line of a booking dict (canonical fields, guest nested, plus lineage)."""
    guest = booking.get("guest") or {}
    values = [guest.get(name[6:]) if name.startswith("guest.") else booking.get(name)
              for name in FIELDS + LINEAGE_FIELDS]
    return b"\t".join(NULL if v is None else _escape(str(v).encode()) for v in values)


def _escape(value: bytes) -> bytes:
    for raw, escaped in _ESCAPES:
        if raw in value:
            value = value.replace(raw, escaped)
    return value
