"""Bearer-key authentication and the tenant scope of each request.

The key's hash is put in the transaction (``pmsync.key_hash``). That hash is the only thing
row-level security trusts (migrations 0009, 0010): the policies resolve it in ``api_keys`` to
the key's hotel (or, for an admin key, the DLQ and configs), once per statement, and an
unknown, revoked or expired key resolves to nothing. So a hotel key's queries can only
ever see its hotel's rows, whatever the code asks for, and a session of the API role that holds
no valid key sees nothing whatever it sets (a leaked DSN alone reads no tenant data). The same
hash also shows the API role that one key's row of ``api_keys`` (0008), which tells this
module who is calling, and whether the key expired, without being able to list keys.

Two ways in:
- ``hotel_reads(statements)`` for the hot hotel routes: authentication and the reads go to
  Postgres as one pipeline ending in one Sync, which Postgres runs as one implicit transaction
  (one network round trip, and no BEGIN/COMMIT statements). The reads name the tenant as
  ``TENANT`` (the transaction's own setting, so they can be sent before the key is resolved)
  and every row that comes back is checked against the key's hotel in code.
- ``@requires(scope)`` for admin routes: the view runs inside the authenticated, explicit
  transaction (``g.conn``), for work that needs several steps.

Admin keys are for admin routes only and hotel keys for hotel routes only: an admin key on a
hotel route gets 403 (it names no hotel, and reading a tenant's data should use that tenant's
key), a hotel key on an admin route gets 403. Never log or echo a key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timezone
from typing import Callable, Literal, TypeVar

from flask import g, request

from pmsync.apikeys import hash_key, is_well_formed
from services.api.db import connection, run_pipeline
from services.api.errors import ApiError

Scope = Literal["hotel", "admin"]
F = TypeVar("F", bound=Callable)

# Authentication is two statements of one transaction. The first shows the API role the row
# of the key it holds (the api_keys policy compares key_hash to this transaction-local
# setting) and has the look-up reuse its prepared generic plan: its one plan is the key_hash
# index whatever the key, and planning it per request cost the backend 0.05 ms, as much as
# running it (bench/api.py's database, 2026-11-26).
_PRESENT_KEY = """
SELECT set_config('pmsync.key_hash', %(key_hash)s, true),
       set_config('plan_cache_mode', 'force_generic_plan', true)
"""
# The look-up names the hash and revocation itself too, so it finds the one right key even on
# a connection that row-level security does not restrict (a misconfigured owner DSN).
# pmsync.hotel_id is what the hotel reads filter on (``TENANT``), so the planner sees the hotel
# and uses the indexes; it grants nothing (the policies ignore it), and it is set only for a
# hotel key on a hotel route that has not expired, so a mismatched key's reads name no hotel.
# A valid key's row also sets how the transaction's later statements are planned (see
# ``hotel_reads``); like the tenant, the setting ends with the transaction.
_AUTHENTICATE = """
SELECT a.id, a.hotel_id, a.is_admin, a.expires_at, coalesce(a.expires_at <= now(), false),
       set_config('pmsync.hotel_id',
                  CASE WHEN %(scope)s = 'hotel' AND NOT a.is_admin
                        AND (a.expires_at IS NULL OR a.expires_at > now())
                       THEN a.hotel_id ELSE '' END, true),
       set_config('plan_cache_mode', %(plan_cache_mode)s, true)
  FROM api_keys AS a
 WHERE a.key_hash = %(key_hash)s AND a.revoked_at IS NULL
"""
# The connection's default (db.py); "force_generic_plan" only for reads whose generic plan is
# known to be right whatever the values (see ``hotel_reads``).
CUSTOM_PLANS = "force_custom_plan"
GENERIC_PLANS = "force_generic_plan"


@dataclass(frozen=True)
class Principal:
    key_id: int
    hotel_id: str | None
    is_admin: bool


# How hotel reads name their hotel: the value authentication set in this transaction.
TENANT = "current_setting('pmsync.hotel_id', true)"


def _bearer_key() -> str:
    header = request.headers.get("Authorization")
    if not header:
        raise ApiError(401, "unauthorized",
                       "missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <key>'")
    key = key.strip()
    if not is_well_formed(key):
        raise ApiError(401, "unauthorized", "the API key is not valid")
    return key


def key_hash() -> str:
    """The hash of the request's well-formed bearer key (401 otherwise); no database work."""
    return hash_key(_bearer_key())


def _auth_params(scope: Scope, hashed_key: str, plan_cache_mode: str) -> dict[str, str]:
    return {"scope": scope, "key_hash": hashed_key, "plan_cache_mode": plan_cache_mode}


def _principal(row: tuple | None, scope: Scope) -> Principal:
    if row is None:
        raise ApiError(401, "unauthorized", "the API key is not valid or was revoked")
    if row[4]:
        raise ApiError(401, "key_expired",
                       f"the API key expired at {row[3].astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}; "
                       "ask your operator for a new key (pmsync apikey create)")
    principal = Principal(row[0], row[1], row[2])
    if scope == "admin" and not principal.is_admin:
        raise ApiError(403, "forbidden", "this route needs an admin key")
    if scope == "hotel" and principal.is_admin:
        raise ApiError(403, "forbidden", "admin keys cannot read hotel data; use the hotel's key")
    return principal


def hotel_reads(hashed_key: str, statements: list[tuple[str, dict]], *,
                generic_plans: bool = False) -> tuple[Principal, list[list[tuple]]]:
    """Authenticate a hotel key and run ``statements`` (reads naming ``TENANT``) in one
    transaction, pipelined. Each statement's rows are returned; a row whose first column is a
    hotel id other than the key's is refused (the code's check, on top of the database's).

    ``generic_plans``: the statements reuse their prepared generic plan instead of being
    planned again with each request's values (planning was about a quarter of the database's
    work for a page). Only for statements whose best plan does not depend on the values."""
    params = _auth_params("hotel", hashed_key, GENERIC_PLANS if generic_plans else CUSTOM_PLANS)
    with connection() as conn:
        # The connection is in autocommit mode: the extended protocol runs every statement up
        # to the pipeline's one Sync as one implicit transaction. So the reads see the tenant
        # authentication set, and the Sync ends the transaction and with it the tenant. An
        # unknown key sets no tenant (the reads see nothing); an error skips the rest and the
        # Sync rolls back.
        _, keys, *results = run_pipeline(conn, [(_PRESENT_KEY, params), (_AUTHENTICATE, params),
                                                *statements])
    principal = _principal(keys[0] if keys else None, "hotel")
    for rows in results:
        if any(row[0] != principal.hotel_id for row in rows):
            raise RuntimeError("a read returned a row of another hotel; refusing the response")
    g.principal = principal
    return principal, results


def requires(scope: Scope) -> Callable[[F], F]:
    """Run the view inside a transaction whose tenant is the key's hotel (or admin)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            hashed = key_hash()
            params = _auth_params(scope, hashed, CUSTOM_PLANS)
            with connection() as conn, conn.transaction():
                with conn.pipeline():  # both statements in one round trip
                    conn.execute(_PRESENT_KEY, params)
                    auth = conn.execute(_AUTHENTICATE, params)
                row = auth.fetchone()
                principal = _principal(row, scope)
                g.principal = principal
                g.conn = conn
                return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
