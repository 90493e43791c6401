"""The hotels registry: which hotels exist, which PMS and config version each uses, where its
PMS answers, and how often to poll it. Plain SQL over a psycopg connection (owner role).

A hotel stores only a *reference* to its credentials (see ``pmsync.secrets``); this module must
never read, store or print a credential value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from pmsync.secrets import SecretError, check_ref

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class HotelError(Exception):
    """A registry request cannot be done; the message says why and what to change."""


@dataclass(frozen=True)
class Hotel:
    id: str
    name: str
    pms_type: str
    pms_version: str
    base_url: str
    property_id: str
    credentials_ref: str | None = None
    poll_interval_s: int = 60
    status: str = "active"
    updated_at: datetime | None = None


@dataclass(frozen=True)
class HotelStatus:
    """A hotel with its sync checkpoint, as ``hotels list`` shows it."""

    hotel: Hotel
    delta_cursor: str | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    records_fetched: int
    # Set while the hotel backs off after failed syncs: its next sync is not before this.
    next_attempt_at: datetime | None = None


_COLUMNS = ("id, name, pms_type, pms_version, base_url, property_id, credentials_ref, "
            "poll_interval_s, status, updated_at")


def _hotel(row: dict[str, Any]) -> Hotel:
    return Hotel(**{key: row[key] for key in Hotel.__dataclass_fields__})


def validate(hotel: Hotel) -> None:
    """Refuse a hotel the fetcher could not poll, naming the field."""
    problems = []
    if not _ID.fullmatch(hotel.id):
        problems.append(f"id {hotel.id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    url = urlsplit(hotel.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        problems.append(f"base URL {hotel.base_url!r} must be an http:// or https:// URL")
    elif url.username or url.password:
        problems.append("base URL must not carry credentials; use --credentials-ref")
    elif url.query or url.fragment:
        # The config's request.query is where parameters go; a base URL's query would be
        # dropped by the HTTP client or could smuggle a credential into error messages.
        problems.append("base URL must not have a query string or fragment")
    if hotel.poll_interval_s <= 0:
        problems.append(f"poll interval {hotel.poll_interval_s} must be a positive number of seconds")
    for label, value in (("pms type", hotel.pms_type), ("pms version", hotel.pms_version),
                         ("property id", hotel.property_id), ("name", hotel.name)):
        if not value or not value.strip():
            problems.append(f"{label} must not be empty")
    if hotel.credentials_ref is not None:
        try:
            check_ref(hotel.credentials_ref)
        except SecretError as exc:
            problems.append(str(exc))
    if problems:
        raise HotelError("; ".join(problems))


def add_hotel(conn: psycopg.Connection, hotel: Hotel) -> Hotel:
    validate(hotel)
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                f"""INSERT INTO hotels (id, name, pms_type, pms_version, base_url, property_id,
                                        credentials_ref, poll_interval_s, status)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'active')
                    RETURNING {_COLUMNS}""",
                (hotel.id, hotel.name, hotel.pms_type, hotel.pms_version, hotel.base_url,
                 hotel.property_id, hotel.credentials_ref, hotel.poll_interval_s)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise HotelError(f"hotel {hotel.id!r} already exists") from None
    return _hotel(row)


def has_config(conn: psycopg.Connection, pms_type: str, version: str) -> bool:
    return conn.execute("SELECT 1 FROM pms_configs WHERE pms_type = %s AND version = %s",
                        (pms_type, version)).fetchone() is not None


def disable_hotel(conn: psycopg.Connection, hotel_id: str) -> Hotel:
    """Stop polling a hotel; its bookings and checkpoint stay."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"UPDATE hotels SET status = 'disabled', updated_at = now() "
                          f"WHERE id = %s RETURNING {_COLUMNS}", (hotel_id,)).fetchone()
    if row is None:
        raise HotelError(f"no hotel {hotel_id!r}; `pmsync hotels list` shows the registered ones")
    return _hotel(row)


def get_hotel(conn: psycopg.Connection, hotel_id: str) -> Hotel | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM hotels WHERE id = %s", (hotel_id,)).fetchone()
    return _hotel(row) if row else None


def active_hotels(conn: psycopg.Connection, ids: list[str] | None = None) -> list[Hotel]:
    """Active hotels in id order, optionally only those in ``ids``."""
    with conn.cursor(row_factory=dict_row) as cur:
        if ids is None:
            rows = cur.execute(f"SELECT {_COLUMNS} FROM hotels WHERE status = 'active' "
                               "ORDER BY id").fetchall()
        else:
            rows = cur.execute(f"SELECT {_COLUMNS} FROM hotels WHERE status = 'active' "
                               "AND id = ANY(%s) ORDER BY id", (list(ids),)).fetchall()
    return [_hotel(row) for row in rows]


def list_hotels(conn: psycopg.Connection) -> list[HotelStatus]:
    """Every hotel with its sync state, in id order."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"""SELECT {', '.join('h.' + c for c in _COLUMNS.split(', '))},
                       c.delta_cursor, c.last_success_at, c.last_error,
                       coalesce(c.consecutive_failures, 0) AS consecutive_failures,
                       coalesce(c.records_fetched, 0) AS records_fetched, c.next_attempt_at
                  FROM hotels h LEFT JOIN sync_checkpoints c ON c.hotel_id = h.id
                 ORDER BY h.id""").fetchall()
    return [HotelStatus(_hotel(row), row["delta_cursor"], row["last_success_at"], row["last_error"],
                        row["consecutive_failures"], row["records_fetched"],
                        row["next_attempt_at"]) for row in rows]
