"""Real Kafka and Postgres for tests: testcontainers where a Docker engine answers, the native
dev stack (``pmsync stack up``) otherwise. The same tests run either way."""

from __future__ import annotations

import os
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
    """A Docker-compatible engine answers where the Docker SDK looks (``DOCKER_HOST`` or the
    default socket): Docker itself, or ``podman system service``."""
    try:
        import docker
        client = docker.from_env(timeout=10)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no engine, no socket, or one that does not answer
        return False


@contextmanager
def start_services() -> Iterator[Services]:
    if docker_available():
        with _containers() as services:
            yield services
    elif os.environ.get("PMSYNC_TEST_SERVICES") == "testcontainers":
        # The deploy tier runs the suite this way on purpose: falling back would hide a failure.
        raise RuntimeError("PMSYNC_TEST_SERVICES=testcontainers, but no Docker engine answers "
                           "(DOCKER_HOST or the default socket)")
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
    """``apache/kafka`` (KRaft, configured by the image's ``KAFKA_*`` variables, as
    docker-compose.yml does) and ``postgres:15``. Image names can be overridden like the
    compose file's (``PMSYNC_KAFKA_IMAGE``, ``PMSYNC_POSTGRES_IMAGE``)."""
    import psycopg
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.container import DockerContainer

    from pmsync.stack.kafka import KAFKA_VERSION
    from pmsync.stack.process import wait_until
    from tests.ports import unused_port

    # The broker advertises the address the tests reach it on, so its host port is chosen first.
    port = unused_port()
    kafka = (DockerContainer(os.environ.get("PMSYNC_KAFKA_IMAGE") or f"apache/kafka:{KAFKA_VERSION}")
             .with_bind_ports(9092, port)
             .with_envs(KAFKA_NODE_ID="1", KAFKA_PROCESS_ROLES="broker,controller",
                        KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
                        KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
                        KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
                        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                        KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
                        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
                        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
                        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
                        KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
                        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0"))
    postgres = PostgresContainer(os.environ.get("PMSYNC_POSTGRES_IMAGE") or "postgres:15",
                                 username="pmsync", password="pmsync", dbname="pmsync")
    with postgres as pg, kafka:
        # Ready when it answers a metadata request: images differ in what they log, and how much.
        wait_until(lambda: _kafka_answers(f"127.0.0.1:{port}"), timeout=180, what="the Kafka container")
        # The published port on this host's loopback, named here rather than through
        # get_connection_url(), whose host detection reads a field podman's API leaves out.
        dsn = f"postgresql://pmsync:pmsync@127.0.0.1:{pg.get_exposed_port(5432)}/pmsync"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE ROLE pmsync_api LOGIN NOBYPASSRLS PASSWORD 'pmsync_api'")
        yield Services(f"127.0.0.1:{port}", dsn, "pmsync_api", "pmsync_api", "testcontainers")


def _kafka_answers(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
