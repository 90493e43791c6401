"""API keys: generation, hashing, creation and revocation.

A key is ``pmk_`` followed by 32 random bytes (URL-safe base64), so it carries 256 bits of
entropy. Only its SHA-256 is stored: a slow password hash (bcrypt, argon2) protects secrets a
person chose, which are guessable; a 256-bit random key cannot be guessed from its hash, and a
fast hash lets every request find its key with one indexed equality look-up. The plain key is
returned once, at creation, and is never stored or logged.

This module uses the owner DSN (the API role can only look up the key it presents in
``api_keys``, never list or write keys). It must never log or return a key except the one
``create_key`` result.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import psycopg
from psycopg import errors as pg_errors

KEY_SCHEME = "pmk_"
# 32 random bytes in URL-safe base64 without padding are 43 characters.
_KEY_RE = re.compile(r"^pmk_[A-Za-z0-9_-]{43}$")
# Enough of the key to name it in lists and to revoke it; 48 random bits, never enough to use.
PREFIX_LENGTH = len(KEY_SCHEME) + 8


class ApiKeyError(Exception):
    """A key could not be created or revoked; the message says why."""


@dataclass(frozen=True)
class CreatedKey:
    id: int
    key: str                 # the plain key: show it once, never store it
    prefix: str
    hotel_id: str | None
    is_admin: bool
    expires_at: datetime | None = None


_DURATION_RE = re.compile(r"^([1-9][0-9]{0,5})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """When a key made now with ``--expires text`` stops working, in UTC.

    ``text`` is a duration from now (``12h``, ``30d``, ``8w``), an ISO date (the key works
    through that day and expires at its end, UTC) or an ISO date-time with an offset. A naive
    date-time is refused rather than guessed: the server's time zone is not the operator's.
    """
    now = now or datetime.now(timezone.utc)
    text = text.strip()
    match = _DURATION_RE.match(text)
    if match:
        expires = now + int(match.group(1)) * _UNITS[match.group(2)]
    else:
        try:
            if len(text) == 10:
                expires = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(),
                                           timezone.utc)
            else:
                expires = datetime.fromisoformat(text)
        except ValueError:
            raise ApiKeyError(f"--expires {text!r} is neither a duration (12h, 30d, 8w), a date "
                              "(2027-01-31) nor a date-time with offset (2027-01-31T18:00:00+01:00)"
                              ) from None
        if expires.tzinfo is None:
            raise ApiKeyError(f"--expires {text!r} has no UTC offset; add one, e.g. {text}Z or {text}+01:00")
    if expires <= now:
        raise ApiKeyError(f"--expires {text!r} is in the past ({expires.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC); "
                          "give a later time")
    return expires.astimezone(timezone.utc)


def generate_key() -> str:
    return KEY_SCHEME + secrets.token_urlsafe(32)


def is_well_formed(key: str) -> bool:
    """True when ``key`` has the shape of a pmsync key (checked before any database work)."""
    return bool(_KEY_RE.match(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def create_key(dsn: str, *, hotel_id: str | None = None, admin: bool = False,
               name: str | None = None, expires_at: datetime | None = None) -> CreatedKey:
    """Store a new key scoped to one hotel, or an admin key; returns it with the plain key.

    ``expires_at`` (aware): from then on the key is refused (401 key_expired) and row-level
    security treats it as no key; None, the default, never expires."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise ApiKeyError("expires_at needs a time zone")
    if admin == (hotel_id is not None):
        raise ApiKeyError("a key is either for one hotel (hotel_id) or admin, not both or neither")
    with psycopg.connect(dsn) as conn:
        # A prefix collision (48 random bits) is practically impossible; retry rather than fail.
        for _ in range(3):
            key = generate_key()
            try:
                with conn.transaction():
                    row = conn.execute(
                        "INSERT INTO api_keys (key_prefix, key_hash, hotel_id, is_admin, name, expires_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                        (key_prefix(key), hash_key(key), hotel_id, admin, name, expires_at)).fetchone()
            except pg_errors.ForeignKeyViolation:
                raise ApiKeyError(f"hotel {hotel_id!r} does not exist") from None
            except pg_errors.UniqueViolation:
                continue
            assert row is not None
            return CreatedKey(row[0], key, key_prefix(key), hotel_id, admin, expires_at)
    raise ApiKeyError("could not generate a unique key prefix; try again")


def revoke_key(dsn: str, prefix: str) -> bool:
    """Revoke the key with this prefix (or the full key); False when no active key matches."""
    prefix = key_prefix(prefix.strip())
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("UPDATE api_keys SET revoked_at = now() "
                           "WHERE key_prefix = %s AND revoked_at IS NULL", (prefix,))
        return cur.rowcount == 1


def list_keys(dsn: str) -> list[dict]:
    """Every key's prefix, scope and state; never the hash."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, key_prefix, hotel_id, is_admin, name, created_at, revoked_at, "
                            "expires_at, coalesce(expires_at <= now(), false) FROM api_keys ORDER BY id").fetchall()
    cols = ("id", "prefix", "hotel_id", "is_admin", "name", "created_at", "revoked_at", "expires_at",
            "expired")
    return [dict(zip(cols, r)) for r in rows]
