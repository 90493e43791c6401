"""The end-to-end harness (tests/integration/pipeline_harness.py) run the way production
runs: the fetcher as a service process polling on its own schedule, any number of
instances of each stream worker (each a process that can be killed on its own), and ways to
watch how far a stage has got, so a fault can be injected mid-stream."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from pmsync.config import load_config_dir
from pmsync.config_store import publish_configs
from pmsync.kafka.topics import create_topics, topic_specs
from pmsync.runner import COMMANDS, Service, service
from pmsync.secrets import secrets_dir
from pmsync.settings import Settings
from pmsync.simlink import register_hotels, sim_post
from pmsync.stack.process import wait_until
from tests.integration.pipeline_harness import CONFIG_DIR, WORKERS, Pipeline
from tests.ports import unused_port

# Short enough that a restarted fetcher, or a hotel whose sync failed, is polled again
# within a scenario; long enough that polling does not crowd out the rest on 2 cores.
POLL_INTERVAL_S = 5
FETCHER_OPTIONS = ["--concurrency", "8", "--timeout", "3", "--registry-refresh", "5"]


class FaultPipeline(Pipeline):
    def __init__(self, settings: Settings, run_dir: Path) -> None:
        super().__init__(settings, run_dir)
        self.commands: dict[str, str] = {}    # instance label → COMMANDS key
        self.killed: set[str] = set()          # instances the scenario killed on purpose

    def start_all(self, *, hotels: int, bookings: int, seed: int, invalid_rate: float,
                  faults: dict | None = None, instances: int = 1, fetcher: bool = True,
                  topic_config: dict[str, dict[str, str]] | None = None) -> "FaultPipeline":
        """Topics (``topic_config``: extra configs by topic name), configs, the simulator, its
        hotels registered, ``instances`` of every stream worker and (unless ``fetcher=False``)
        the fetcher service."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        extra = topic_config or {}
        create_topics(self.settings, [dataclasses.replace(s, config={**s.config, **extra.get(s.name, {})})
                                      for s in topic_specs(self.settings)])
        publish_configs(self.settings, load_config_dir(CONFIG_DIR))
        port = unused_port()
        self.sim_url = f"http://127.0.0.1:{port}"
        options = ["--hotels", str(hotels), "--seed", str(seed), "--port", str(port),
                   "--bookings", str(bookings), "--invalid-rate", str(invalid_rate)]
        if faults:
            path = self.run_dir / "faults.json"
            path.write_text(json.dumps(faults))
            options += ["--faults", str(path)]
        self.start_instance("simulator", "simulator", options)
        wait_until(self._sim_up, 60, "the simulator", error=TimeoutError)
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            self.hotels = register_hotels(conn, self.settings, self.sim_url,
                                          id_prefix=f"f{uuid.uuid4().hex[:5]}-",
                                          poll_interval_s=POLL_INTERVAL_S)
        for name in WORKERS:
            for i in range(instances):
                self.start_instance(name, name if i == 0 else f"{name}-{i + 1}")
        if fetcher:
            self.start_instance("fetcher", "fetcher")
        return self

    def start_instance(self, command: str, label: str, options: list[str] | None = None) -> Service:
        """Start one instance of ``command`` as ``label`` (its log and pid file are named so);
        without ``options``, the options the suite runs that command with."""
        if options is None:
            options = ["--max-wait-ms", "200"] if command == "loader" else []
            if command == "fetcher":
                options = FETCHER_OPTIONS
        svc = service(label, [*COMMANDS[command], *options], self.settings, self.run_dir,
                      PMSYNC_SECRETS_DIR=str(secrets_dir(self.settings)))
        self.services[label] = svc.start()
        self.commands[label] = command
        self.killed.discard(label)
        return svc

    def kill(self, label: str) -> None:
        """kill -9 of one instance (its whole process group); it stays down until restarted."""
        self.services[label].kill()
        self.killed.add(label)

    def restart(self, label: str) -> Service:
        """Start a killed instance again, as the same command with the same options."""
        old = self.services[label]
        return self.start_instance(self.commands[label], label, old.args[len(COMMANDS[self.commands[label]]):])

    def set_faults(self, faults: dict) -> None:
        sim_post(self.sim_url, "/_sim/faults", faults)

    # -- progress ---------------------------------------------------------------------------
    def topic_size(self, topic: str) -> int:
        """Messages ever written to ``topic`` (sum of its partitions' end offsets)."""
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                 client_id="faults-progress", enable_auto_commit=False)
        try:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return sum(consumer.end_offsets(parts).values()) if parts else 0
        finally:
            consumer.close()

    def rows(self, table: str) -> int:
        with psycopg.connect(self.settings.database_url) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def progress(self, stage: str) -> int:
        """How much a stage has produced: messages on its output topic, or rows it stored."""
        t = self.settings.topics
        return {"fetcher": lambda: self.topic_size(t.raw),
                "validator": lambda: self.topic_size(t.validated),
                "mapper": lambda: self.topic_size(t.bookings),
                "loader": lambda: self.rows("bookings"),
                "dlq-sink": lambda: self.rows("dlq_messages")}[stage]()

    def wait_for_progress(self, stage: str, at_least: int, timeout: float) -> int:
        """Block until ``stage`` produced ``at_least`` items (polled every 0.1 s)."""
        def reached() -> int:
            value = self.progress(stage)
            return value if value >= at_least else 0
        return wait_until(reached, timeout, f"{stage} to produce {at_least} items", interval=0.1,
                          error=AssertionError)

    def group_state(self, command: str) -> tuple[str, int]:
        """(state, member count) of a stream worker's consumer group, e.g. ("Stable", 2)."""
        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap,
                                 client_id="faults-groups")
        try:
            group = self.settings.group_id(command)
            info = admin.describe_groups([group])[group]
            return info["group_state"], len(info["members"])
        finally:
            admin.close()

    def wait_until_group(self, command: str, condition, what: str, timeout: float = 60) -> tuple[str, int]:
        """Poll the group every 50 ms until ``condition(state, members)``; returns (state, members)."""
        seen: list[tuple[str, int]] = []

        def check() -> tuple[str, int] | None:
            current = self.group_state(command)
            seen.append(current)
            return current if condition(*current) else None
        try:
            return wait_until(check, timeout, f"{command}'s group: {what}", interval=0.05,
                              error=AssertionError)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; states seen: {sorted(set(seen))}") from None

    def backoff_seconds(self, hotel_ids) -> dict[str, float]:
        """Per hotel: seconds from its last failed sync to the next attempt the fetcher planned."""
        with psycopg.connect(self.settings.database_url) as conn:
            rows = conn.execute(
                "SELECT hotel_id, extract(epoch FROM next_attempt_at - last_error_at)::float "
                "FROM sync_checkpoints WHERE hotel_id = ANY(%s) AND next_attempt_at IS NOT NULL",
                (list(hotel_ids),)).fetchall()
        return dict(rows)

    def wait_for(self, check, timeout: float, what: str, interval: float = 1):
        """``wait_until`` that fails the test (AssertionError) with ``what`` on timeout."""
        return wait_until(check, timeout, what, interval=interval, error=AssertionError)

    def assert_running(self, *labels: str) -> None:
        down = [label for label in (labels or self.services)
                if label not in self.killed and not self.services[label].running()]
        assert not down, "processes that should be running exited: " + "; ".join(
            f"{label}:\n{self.services[label].log_tail(20)}" for label in down)
