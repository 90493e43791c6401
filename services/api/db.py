"""The API's connection pool.

One pool per process, logged in as the API role (``settings.api_database_url``), which is
subject to row-level security. The pool is opened without waiting, so the process starts and
answers ``/healthz`` and ``/readyz`` while Postgres is down. This module must never use the
owner DSN: that role bypasses the tenant policies.

Connections are in autocommit mode: psycopg sends no BEGIN/COMMIT of its own, and each route
says how its statements form a transaction (``auth.hotel_reads``: one pipeline, which Postgres
runs as one implicit transaction; ``auth.requires``: an explicit ``conn.transaction()``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import psycopg
from flask import current_app
from psycopg_pool import ConnectionPool

from pmsync.settings import Settings

# Every API connection works in UTC (timestamps leave as ...Z) and no statement may hold a
# connection for long: a slow query answers 503 instead of stalling a worker.
# Custom plans by default: psycopg prepares a statement after a few runs, and Postgres'
# generic plan for the filtered list cannot see the check_in range, so it picked the check_in
# index plus a sort over the whole range (88 ms on a 100k-booking hotel) instead of walking the
# keyset index (3 ms). Planning with the real values costs about 0.1 ms of the backend's CPU
# per statement, so a read whose generic plan is always right asks for it per transaction
# (``auth.hotel_reads(..., generic_plans=True)``: the unfiltered bookings list).
_CONNECTION_OPTIONS = "-c timezone=UTC -c statement_timeout=10000 -c plan_cache_mode=force_custom_plan"


def make_api_pool(settings: Settings, max_size: int) -> ConnectionPool:
    pool = ConnectionPool(settings.api_database_url, min_size=1, max_size=max_size,
                          name="pmsync-api", timeout=5.0, open=False,
                          kwargs={"options": _CONNECTION_OPTIONS, "autocommit": True,
                                  "application_name": "pmsync-api"})
    pool.open(wait=False)
    return pool


def pool() -> ConnectionPool:
    return current_app.extensions["pmsync_pool"]


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection, returned to the pool on exit (idle, no transaction).

    The tenant is set with ``set_config(..., true)``, which lasts until the end of the
    transaction it was set in, so it never leaks to the next request that gets this
    connection.
    """
    with pool().connection() as conn:
        yield conn
