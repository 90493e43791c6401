"""The delta cursor: what ``since``/``until`` a hotel's next poll asks for, and how it is written.

The checkpoint stores the cursor as UTC ISO 8601 text (``2026-11-25T16:00:00Z``) whatever the
PMS wants on the wire; the config's ``delta.format`` (a strftime pattern or ``iso8601``) is
applied only when a request is built, so a config change never strands a stored cursor.

This module must never move a cursor forward by itself: only a fully acknowledged sync does
(see ``sync.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pmsync.errors import PMSConnectionError

ISO8601 = "iso8601"
DEFAULT_INITIAL = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class DeltaSpec:
    format: str = ISO8601
    overlap_seconds: int = 0
    initial: str = DEFAULT_INITIAL

    @classmethod
    def from_source(cls, delta: dict[str, Any] | None) -> "DeltaSpec":
        delta = delta or {}
        return cls(format=str(delta.get("format") or ISO8601),
                   overlap_seconds=int(delta.get("overlap_seconds") or 0),
                   initial=str(delta.get("initial") or DEFAULT_INITIAL))


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant as an aware UTC datetime; a value without offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_cursor(instant: datetime) -> str:
    """How a cursor is stored in ``sync_checkpoints.delta_cursor``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_instant(instant: datetime, fmt: str) -> str:
    """``instant`` as the PMS expects it: ``iso8601`` is ``YYYY-MM-DDTHH:MM:SSZ`` in UTC; any
    other format is a strftime pattern applied to the UTC time."""
    instant = instant.astimezone(UTC)
    if fmt == ISO8601:
        return to_cursor(instant)
    return instant.strftime(fmt)


def next_cursor(fetch_started: datetime, spec: DeltaSpec) -> str:
    """The cursor a successful sync leaves behind: its start time minus the overlap, because
    records changed while the sync ran may not have been in the pages it read."""
    return to_cursor(fetch_started - timedelta(seconds=spec.overlap_seconds))


def since_value(stored: str | None, spec: DeltaSpec) -> str:
    """The ``since`` variable for a poll: the stored cursor, or the config's ``initial``."""
    text = stored if stored else spec.initial
    try:
        instant = parse_instant(text)
    except ValueError:
        if stored:
            raise PMSConnectionError(
                f"stored delta cursor {stored!r} is not an ISO 8601 time; reset it with "
                "UPDATE sync_checkpoints SET delta_cursor = NULL for this hotel") from None
        # An `initial` the PMS understands verbatim (e.g. "0") is passed through as written.
        return spec.initial
    return format_instant(instant, spec.format)
