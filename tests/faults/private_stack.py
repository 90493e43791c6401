"""A Kafka node and a Postgres cluster of the fault suite's own, on unused ports.

The fault scenarios kill the broker and stop Postgres. They must never do that to the shared
dev stack (127.0.0.1:19092 / 55432) that other test sessions run on, so this module starts a
second stack with the project's own ``pmsync/stack`` code in a folder of its own and hands
out Settings that point there, and only there. The Kafka jars are taken from the dev stack's
folder when it has them (a symlink), so the suite never downloads them a second time.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pmsync.db.connect import with_database
from pmsync.db.migrate import migrate
from pmsync.settings import Settings, Topics
from pmsync.stack.kafka import KAFKA_VERSION, KafkaNode
from pmsync.stack.postgres import PostgresCluster
from pmsync.stack.process import port_open, wait_until
from tests.ports import unused_port

SHARED_PORTS = (19092, 19093, 55432)


@dataclass
class PrivateStack:
    """The suite's own stack. ``settings`` reach it; ``kafka``/``postgres`` start and stop it."""

    settings: Settings
    kafka: KafkaNode
    postgres: PostgresCluster

    @classmethod
    def create(cls, folder: Path) -> "PrivateStack":
        base = Settings.from_env()
        ports = _ports_apart_from_the_shared_stack(3)
        kafka_port, controller_port, pg_port = ports
        settings = dataclasses.replace(
            base, stack_dir=folder, kafka_port=kafka_port, kafka_controller_port=controller_port,
            postgres_port=pg_port, kafka_bootstrap=f"127.0.0.1:{kafka_port}",
            database_url=f"postgresql://pmsync:pmsync@127.0.0.1:{pg_port}/pmsync",
            api_database_url=f"postgresql://pmsync_api:pmsync_api@127.0.0.1:{pg_port}/pmsync")
        _stop_leftovers(settings)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        _reuse_kafka_jars(base.stack_dir, settings)
        return cls(settings, KafkaNode(settings), PostgresCluster(settings))

    def up(self) -> "PrivateStack":
        self.postgres.up()
        self.kafka.up()
        return self

    def down(self) -> None:
        self.kafka.down()
        self.postgres.down()

    # -- the broker and the database, for the outage scenarios ------------------------------
    def kill_kafka(self) -> None:
        """kill -9 of the broker: no clean shutdown, the log is recovered at the next start."""
        pid = int(self.kafka.pid_file.read_text())
        os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: not port_open(self.settings.kafka_port), 30,
                   f"the killed broker to free port {self.settings.kafka_port}", error=AssertionError)
        self.kafka.pid_file.unlink(missing_ok=True)

    def start_kafka(self) -> None:
        self.kafka.up()

    def stop_postgres(self) -> None:
        self.postgres.down()

    def start_postgres(self) -> None:
        self.postgres.up()

    # -- per scenario: a fresh database and topic names ------------------------------------
    def scenario_settings(self, partitions: int = 6) -> Settings:
        """Settings on a new, migrated database with topics and groups of their own."""
        name = f"faults_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dsn = with_database(self.settings.database_url, name)
        migrate(dsn)
        prefix = f"f{uuid.uuid4().hex[:8]}."
        topics = Topics(**{f.name: prefix + f.default for f in dataclasses.fields(Topics)})
        return dataclasses.replace(
            self.settings, database_url=dsn,
            api_database_url=with_database(self.settings.api_database_url, name),
            topics=topics, partitions=partitions, group_prefix=f"faults-{prefix[:-1]}")

    def drop_database(self, settings: Settings) -> None:
        name = settings.database_url.rsplit("/", 1)[-1]
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ports_apart_from_the_shared_stack(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = unused_port()
        if port not in SHARED_PORTS and port not in ports:
            ports.append(port)
    return ports


def _reuse_kafka_jars(shared_stack_dir: Path, settings: Settings) -> None:
    shared_lib = shared_stack_dir / "kafka" / "lib"
    if (shared_lib / f".kafka-{KAFKA_VERSION}").exists():
        (settings.stack_dir / "kafka").mkdir(parents=True)
        (settings.stack_dir / "kafka" / "lib").symlink_to(shared_lib.resolve())


def _stop_leftovers(settings: Settings) -> None:
    """A session killed before its teardown leaves its stack running in the same folder."""
    if (settings.stack_dir / "kafka" / "kafka.pid").exists():
        KafkaNode(settings).down()
    if (settings.stack_dir / "postgres" / "data" / "PG_VERSION").exists():
        cluster = PostgresCluster(settings)
        if cluster.running():
            cluster.down()
