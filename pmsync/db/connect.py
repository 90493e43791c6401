"""Connections and pools. One pool per process; services never open a connection per record."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool


def with_database(dsn: str, database: str, user: str | None = None, password: str | None = None) -> str:
    """``dsn`` pointed at another database (and optionally another login)."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        host = netloc.rsplit("@", 1)[-1]
        netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))


def connect(dsn: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(dsn, **kwargs)


def make_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, name: str = "pmsync") -> ConnectionPool:
    """A pool that is open and checked before the first request, so a bad DSN fails at start."""
    pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, name=name, open=False)
    pool.open(wait=True, timeout=30)
    return pool
