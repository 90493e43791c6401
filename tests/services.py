"""Real Kafka and Postgres for tests: testcontainers where a Docker engine answers, the native
dev stack (``pmsync stack up``) otherwise. The same tests run either way."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

from pmsync.settings import Settings


@dataclass(frozen=True)
class Services:
    kafka_bootstrap: str
    admin_dsn: str        # owner role, on the server's default project database
    api_role: str
    api_password: str
    how: str              # "testcontainers" or "native"


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def start_services() -> Iterator[Services]:
    if docker_available():
        with _containers() as services:
            yield services
    else:
        yield _native()


def _native() -> Services:
    from pmsync.stack import native
    settings = Settings.from_env()
    native.up(settings)
    api = urlsplit(settings.api_database_url)
    return Services(settings.kafka_bootstrap, settings.database_url, api.username or "pmsync_api",
                    api.password or "", "native")


@contextmanager
def _containers() -> Iterator[Services]:
    import psycopg
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    from pmsync.stack.kafka import KAFKA_VERSION

    with PostgresContainer("postgres:15", username="pmsync", password="pmsync", dbname="pmsync") as pg, \
            KafkaContainer(f"apache/kafka:{KAFKA_VERSION}").with_kraft() as kafka:
        dsn = pg.get_connection_url(driver=None)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE ROLE pmsync_api LOGIN NOBYPASSRLS PASSWORD 'pmsync_api'")
        yield Services(kafka.get_bootstrap_server(), dsn, "pmsync_api", "pmsync_api", "testcontainers")

