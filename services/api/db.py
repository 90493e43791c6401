"""The API's connection pool and the tenant-scoped transaction every data route runs in.

One pool per process, logged in as the API role (``settings.api_database_url``), which is
subject to row-level security. The pool is opened without waiting, so the process starts and
answers ``/healthz`` and ``/readyz`` while Postgres is down. This module must never use the
owner DSN: that role bypasses the tenant policies.
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
# Custom plans always: psycopg prepares a statement after a few runs, and Postgres' generic
# plan for the filtered list cannot see the check_in range, so it picked the check_in index
# plus a sort over the whole range (88 ms on a 100k-booking hotel) instead of walking the
# keyset index (3 ms). Planning with the real values costs about 1 ms.
_CONNECTION_OPTIONS = "-c timezone=UTC -c statement_timeout=10000 -c plan_cache_mode=force_custom_plan"


def make_api_pool(settings: Settings, max_size: int) -> ConnectionPool:
    pool = ConnectionPool(settings.api_database_url, min_size=1, max_size=max_size,
                          name="pmsync-api", timeout=5.0, open=False,
                          kwargs={"options": _CONNECTION_OPTIONS,
                                  "application_name": "pmsync-api"})
    pool.open(wait=False)
    return pool


def pool() -> ConnectionPool:
    return current_app.extensions["pmsync_pool"]


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction; commit on success, rollback on error.

    ``set_config(..., true)`` in auth is transaction-local, so the tenant never leaks to the
    next request that gets this connection.
    """
    with pool().connection() as conn:
        yield conn
