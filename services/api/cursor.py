"""Opaque keyset cursors: the sort key of the last row of a page, base64url-encoded JSON.

A cursor is a position, not a permission: the tenant is fixed by the API key and enforced by
row-level security, so a forged cursor can only move within the caller's own rows. Cursors
are still checked strictly (kind, shape, types) so a bad one is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson

from services.api.errors import invalid_parameter

MAX_CURSOR = 512


def encode(kind: str, *values: str | int) -> str:
    raw = orjson.dumps([kind, *values])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: str, kind: str, arity: int) -> list:
    if len(token) > MAX_CURSOR:
        raise invalid_parameter("cursor", "cursor is too long; use the next_cursor value as given")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        value = None
    if not (isinstance(value, list) and len(value) == arity + 1 and value[0] == kind):
        raise invalid_parameter("cursor", "cursor is not valid here; use the next_cursor value "
                                          "of the previous page of the same list")
    return value[1:]


def decode_booking(token: str) -> tuple[datetime, str]:
    """(source_updated_at, external_id) of the last booking of the previous page."""
    updated, external_id = _decode(token, "b1", 2)
    try:
        when = datetime.fromisoformat(updated) if isinstance(updated, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not isinstance(external_id, str) \
            or not 0 < len(external_id) <= 256 or "\x00" in external_id:
        raise invalid_parameter("cursor", "cursor is not valid here")
    return when, external_id


def encode_booking(updated: datetime, external_id: str) -> str:
    return encode("b1", updated.isoformat(), external_id)


def decode_dlq(token: str) -> int:
    (last_id,) = _decode(token, "d1", 1)
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 < last_id < 2**63:
        raise invalid_parameter("cursor", "cursor is not valid here")
    return last_id


def encode_dlq(last_id: int) -> str:
    return encode("d1", last_id)
