"""Applies the plain SQL files in ``migrations/`` in name order, each once.

Each file runs in its own transaction together with its row in ``schema_migrations``; an
advisory lock makes concurrent ``migrate`` calls (several services starting) safe. A file
whose content changed after it was applied is reported, never re-run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_ID = 0x706D73796E63  # "pmsync"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return [Migration(p.stem, p) for p in sorted(directory.glob("*.sql"))]


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call (empty if none)."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                              version text PRIMARY KEY, checksum text NOT NULL,
                              applied_at timestamptz NOT NULL DEFAULT now())""")
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            for migration in available(directory):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning("migration changed after it was applied",
                                    extra={"version": migration.version})
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                                 (migration.version, migration.checksum))
                applied_now.append(migration.version)
                log.info("migration applied", extra={"version": migration.version})
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now
