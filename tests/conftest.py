"""One fixture layer for real services.

- ``services`` (session): a real Kafka and Postgres (see tests/services.py).
- ``database`` (session): a fresh database, migrated, dropped at the end of the run.
- ``settings`` (per test): Settings pointing at them, with topic names unique to the test, so
  tests never see each other's messages. ``topics`` creates those topics.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Iterator

import psycopg
import pytest

from pmsync.db.migrate import migrate
from pmsync.settings import Settings, Topics
from pmsync.db.connect import with_database
from tests.services import Services, start_services


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with start_services() as started:
        yield started


@dataclass(frozen=True)
class Database:
    name: str
    dsn: str       # owner: what the pipeline services use
    api_dsn: str   # the API role, subject to row-level security


@pytest.fixture(scope="session")
def database(services: Services) -> Iterator[Database]:
    name = f"pmsync_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(services.admin_dsn, name)
    migrate(dsn)
    yield Database(name, dsn, with_database(services.admin_dsn, name, services.api_role, services.api_password))
    with psycopg.connect(services.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(services: Services, database: Database, partitions: int = 3) -> Settings:
    """Settings on the test services with topic names and consumer groups of their own."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topics = Topics(**{f.name: prefix + f.default for f in dataclasses.fields(Topics)})
    return dataclasses.replace(Settings.from_env(), kafka_bootstrap=services.kafka_bootstrap,
                               database_url=database.dsn, api_database_url=database.api_dsn,
                               topics=topics, partitions=partitions, group_prefix=f"test-{prefix[:-1]}")


@pytest.fixture
def settings(services: Services, database: Database) -> Settings:
    return make_settings(services, database)


@pytest.fixture
def topics(settings: Settings) -> Iterator[Topics]:
    from pmsync.kafka.topics import create_topics, delete_topics
    create_topics(settings)
    yield settings.topics
    delete_topics(settings)


@pytest.fixture
def db(database: Database) -> Iterator[psycopg.Connection]:
    """An owner connection to the test database (autocommit)."""
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        yield conn
