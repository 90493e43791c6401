"""The API's connection pool.

One pool per process, logged in as the API role (``settings.api_database_url``), which is
subject to row-level security. The pool is opened without waiting, so the process starts and
answers ``/healthz`` and ``/readyz`` while Postgres is down. This module must never use the
owner DSN: that role bypasses the tenant policies.

Connections are in autocommit mode: psycopg sends no BEGIN/COMMIT of its own, and each route
says how its statements form a transaction (``auth.hotel_reads``: one pipeline, which Postgres
runs as one implicit transaction, sent by ``run_pipeline``; ``auth.requires``: an explicit
``conn.transaction()``).
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Iterator
from weakref import WeakKeyDictionary

import psycopg
from flask import current_app
from psycopg import errors, pq
from psycopg._queries import PostgresQuery
from psycopg.adapt import Transformer
from psycopg.abc import PQGen
from psycopg.generators import send
from psycopg.waiting import Wait
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


# ``run_pipeline``'s prepared statements, per connection: name by (SQL, parameter types).
# Names are unique in the process, so they never meet psycopg's own (``_pg3_...``).
_prepared: "WeakKeyDictionary[psycopg.Connection, dict[tuple[bytes, tuple[int, ...]], bytes]]" = \
    WeakKeyDictionary()
_names = itertools.count()
# The SQL of the API is built from fixed fragments, so a connection sees a few dozen
# statements; past this bound a statement runs unprepared rather than grow the map.
MAX_PREPARED = 200
# Errors that mean a statement of ours is gone or stale on the server (DEALLOCATE ALL or
# DISCARD ALL on the connection, e.g. psycopg's own after a rollback; a column type changed
# under a cached plan): prepare again under new names and run the pipeline once more.
_STALE = (errors.InvalidSqlStatementName, errors.FeatureNotSupported)
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_FATAL = pq.ExecStatus.FATAL_ERROR
_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
# Results come back in binary: Postgres skips rendering each value as text and psycopg skips
# parsing it. On a deep bookings page (101 rows of 23 columns, bench/api.py's database,
# 2026-11-26) psycopg's row loading went from 0.19 to 0.10 ms; the backend's CPU moved by
# -0.10 to -0.25 ms in one measurement and not at all in another. Values load to the same
# Python types either way.
_BINARY = pq.Format.BINARY


def run_pipeline(conn: psycopg.Connection, statements: list[tuple[str, dict[str, Any]]]
                 ) -> list[list[tuple]]:
    """Run ``statements`` (psycopg ``%(name)s`` SQL, all reads) as one pipeline ending in one
    Sync, which Postgres runs as one implicit transaction, and return each one's rows.

    The same work as ``with conn.pipeline(): conn.execute(...)`` on an autocommit connection
    (each statement prepared, parameters adapted by psycopg, results read without blocking and
    with the GIL released), without psycopg's per-statement cursor, pipeline queue and
    prepare-cache bookkeeping: that was 0.15-0.19 ms of the 0.44-0.61 ms of client CPU of a
    deep bookings page (3 statements, 101 rows, bench/api.py's database, 2026-11-26).
    Statements are prepared on first use; how they are planned is still the transaction's
    plan_cache_mode, as with psycopg's prepared statements. The psycopg pieces used here
    (PostgresQuery, Transformer, the ``send`` generator, ``Connection.wait``) are the ones its
    own pipeline uses; psycopg is pinned (pyproject.toml) and tests/api/test_db.py covers this.
    A statement's error is raised as psycopg raises it; the Sync has already ended the
    transaction. The connection must be idle; it is left idle, or closed if the exchange broke
    half-way (the pool then replaces it)."""
    try:
        return _run_pipeline(conn, statements)
    except _STALE:
        _prepared.pop(conn, None)
        return _run_pipeline(conn, statements)


def _run_pipeline(conn: psycopg.Connection, statements: list[tuple[str, dict[str, Any]]]
                  ) -> list[list[tuple]]:
    tx = Transformer(conn)
    queries = []
    for sql, params in statements:
        query = PostgresQuery(tx)
        query.convert(sql, params)
        queries.append(query)
    prepared = _prepared.setdefault(conn, {})
    pgconn = conn.pgconn
    pgconn.enter_pipeline_mode()
    try:
        expected = _send_statements(pgconn, prepared, queries)
        pgconn.pipeline_sync()
        # Everything is queued in libpq before the one flush (a page's statements are a few
        # hundred bytes), then results are read as they come: fewer wake-ups than psycopg's
        # pipeline, which flushes each command on its own (0.035 ms of client CPU a page).
        conn.wait(send(pgconn))
        results = conn.wait(_results_until_sync(pgconn))
        pgconn.exit_pipeline_mode()
    except BaseException:
        # Half-way through a pipeline: never hand this connection to another request.
        conn.close()
        raise
    rows: list[list[tuple]] = [[] for _ in statements]
    first_error: psycopg.Error | None = None
    for what, result in zip(expected, results):
        if result.status == _FATAL:
            first_error = first_error or errors.error_from_result(result, encoding=conn.info.encoding)
        elif result.status == _ABORTED:
            continue
        elif isinstance(what, int):
            tx.set_pgresult(result)
            rows[what] = tx.load_rows(0, result.ntuples, tuple)
        else:
            prepared[what[0]] = what[1]
    if first_error is not None:
        raise first_error
    return rows


def _send_statements(pgconn: pq.abc.PGconn, prepared: dict[tuple[bytes, tuple[int, ...]], bytes],
                     queries: list[PostgresQuery]) -> list[int | tuple[tuple[bytes, tuple[int, ...]], bytes]]:
    """Queue each statement (with its Parse, the first time); per command sent, what its
    result is for: the statement's index, or the (key, name) a Parse registers."""
    expected: list[int | tuple[tuple[bytes, tuple[int, ...]], bytes]] = []
    for index, query in enumerate(queries):
        key = (query.query, tuple(query.types))
        name = prepared.get(key)
        if name is None and len(prepared) < MAX_PREPARED:
            name = b"pmsync_%d" % next(_names)
            pgconn.send_prepare(name, query.query, query.types)
            expected.append((key, name))
        if name is None:
            pgconn.send_query_params(query.query, query.params, param_types=query.types,
                                     param_formats=query.formats, result_format=_BINARY)
        else:
            pgconn.send_query_prepared(name, query.params, query.formats, result_format=_BINARY)
        expected.append(index)
    return expected


def _results_until_sync(pgconn: pq.abc.PGconn) -> PQGen[list[pq.abc.PGresult]]:
    """One result per command, up to the Sync's (left out), without blocking (the wait
    releases the GIL)."""
    results = []
    while True:
        while pgconn.is_busy():
            yield Wait.R
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:  # the end of one command's results
            continue
        if result.status == _SYNC:
            return results
        results.append(result)
