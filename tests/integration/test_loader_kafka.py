"""The loader end to end: Avro bookings on the test's own topic → real Kafka → real Postgres."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pmsync.kafka import dlq as dlq_names
from pmsync.kafka.headers import header_dict
from pmsync.loader.consume import Loader, LoaderOptions
from pmsync.serde.avro import encode_booking
from pmsync.settings import Settings
from tests.integration.test_loader_store import guests, make_booking, stored
from tests.ports import unused_port

pytestmark = pytest.mark.integration


class Crash(Exception):
    """Stands for the process dying between the database commit and the offset commit."""


class CrashBeforeOffsetCommit(Loader):
    def commit(self, offsets):
        raise Crash()


def produce(settings: Settings, values: list[dict | bytes | None], headers=None) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    for value in values:
        hotel = value["hotel_id"] if isinstance(value, dict) else "poison-hotel"
        data = encode_booking(value) if isinstance(value, dict) else value
        producer.send(settings.topics.bookings, key=hotel.encode(), value=data, headers=headers or [])
    producer.flush()
    producer.close()


def options(**changes) -> LoaderOptions:
    return LoaderOptions(**{"batch_size": 500, "max_wait_s": 0.3, "group_id": f"g-{uuid.uuid4().hex[:8]}",
                            "retry_backoff_s": 0.1, **changes})


def caught_up(loader: Loader, settings: Settings) -> bool:
    parts = [TopicPartition(settings.topics.bookings, p) for p in range(settings.partitions)]
    ends = loader.end_offsets(parts)
    return all((loader.committed(tp) or 0) == ends[tp] for tp in parts)


def run_until_caught_up(loader: Loader, settings: Settings, timeout: float = 60) -> list:
    outcomes = []
    deadline = time.monotonic() + timeout
    while not caught_up(loader, settings):
        assert time.monotonic() < deadline, "loader did not catch up"
        outcome = loader.step()
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


@pytest.fixture
def hotel() -> str:
    return f"k-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def loaders(settings) -> Iterator[list[Loader]]:
    made: list[Loader] = []
    yield made
    for loader in made:
        loader.close()


def start(loaders: list[Loader], settings: Settings, opts: LoaderOptions, cls=Loader) -> Loader:
    loader = cls(settings, opts)
    loaders.append(loader)
    return loader


def test_batches_land_and_offsets_are_committed_after_them(settings, topics, db, loaders):
    hotels = [f"k-{uuid.uuid4().hex[:10]}" for _ in range(4)]
    produce(settings, [make_booking(h, f"R-{i}", source_offset=i) for h in hotels for i in range(25)])
    loader = start(loaders, settings, options(batch_size=16))
    outcomes = run_until_caught_up(loader, settings)
    assert len(outcomes) >= 100 // 16
    assert all(len(o.rejects) == 0 for o in outcomes)
    assert sum(o.written for o in outcomes) == 100
    for h in hotels:
        assert sorted(stored(db, h)) == sorted(f"R-{i}" for i in range(25))


def test_stale_update_on_the_topic_is_ignored(settings, topics, db, loaders, hotel):
    loader = start(loaders, settings, options())
    produce(settings, [make_booking(hotel, "R-1", "2026-04-21T00:00:00Z", 2, status="CANCELLED")])
    run_until_caught_up(loader, settings)
    produce(settings, [make_booking(hotel, "R-1", "2026-04-20T00:00:00Z", 9, status="CONFIRMED")])
    outcomes = run_until_caught_up(loader, settings)
    assert sum(o.stale for o in outcomes) == 1
    assert stored(db, hotel)["R-1"]["status"] == "CANCELLED"


def test_duplicates_in_one_batch_store_the_newest(settings, topics, db, loaders, hotel):
    produce(settings, [make_booking(hotel, "R-1", f"2026-04-20T0{h}:00:00Z", h, status=s)
                       for h, s in [(3, "CONFIRMED"), (5, "CHECKED_OUT"), (4, "CHECKED_IN")]])
    loader = start(loaders, settings, options())
    outcomes = run_until_caught_up(loader, settings)
    assert sum(o.superseded for o in outcomes) == 2
    assert stored(db, hotel)["R-1"]["status"] == "CHECKED_OUT"


def test_replaying_the_topic_gives_the_same_rows(settings, topics, db, loaders, hotel):
    produce(settings, [make_booking(hotel, f"R-{i % 7}", f"2026-04-20T08:{i:02d}:00Z", i) for i in range(30)])
    run_until_caught_up(start(loaders, settings, options()), settings)
    first = (stored(db, hotel), guests(db, hotel))
    # A second group reads the whole topic again, like a consumer-group reset would.
    run_until_caught_up(start(loaders, settings, options()), settings)
    assert (stored(db, hotel), guests(db, hotel)) == first
    assert len(first[0]) == 7


def test_crash_between_database_and_offset_commit_loses_nothing_and_duplicates_nothing(
        settings, topics, db, loaders, hotel):
    produce(settings, [make_booking(hotel, f"R-{i}", source_offset=i) for i in range(40)])
    opts = options(batch_size=1000, max_wait_s=1.0)
    crashing = start(loaders, settings, opts, CrashBeforeOffsetCommit)
    deadline = time.monotonic() + 60
    with pytest.raises(Crash):
        while time.monotonic() < deadline:
            crashing.step()
    stored_before_restart = stored(db, hotel)
    assert stored_before_restart, "the database commit happened before the crash"
    parts = [TopicPartition(settings.topics.bookings, p) for p in range(settings.partitions)]
    assert all(crashing.committed(tp) is None for tp in parts)
    loaders.remove(crashing)
    crashing.close()  # leaves the group with nothing committed, as a dead process would

    restarted = start(loaders, settings, opts)
    run_until_caught_up(restarted, settings)
    after = stored(db, hotel)
    assert sorted(after) == sorted(f"R-{i}" for i in range(40))
    assert db.execute("SELECT count(*) FROM bookings WHERE hotel_id = %s", (hotel,)).fetchone()[0] == 40
    assert {k: v for k, v in after.items() if k in stored_before_restart} == stored_before_restart


def _dlq_messages(settings: Settings, expected: int) -> list:
    consumer = KafkaConsumer(settings.topics.dlq, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000,
                             group_id=f"dlq-{uuid.uuid4().hex[:6]}")
    found = []
    deadline = time.monotonic() + 30
    while len(found) < expected and time.monotonic() < deadline:
        found.extend(consumer)
    consumer.close()
    return found


def test_poison_messages_go_to_the_dlq_with_their_bytes_and_the_rest_load(
        settings, topics, db, loaders, hotel):
    bad_row = make_booking(hotel, "R-bad", adults=None)
    values = [make_booking(hotel, "R-1"), b"\x00garbage", bad_row, make_booking(hotel, "R-2"),
              encode_booking(make_booking(hotel, "R-3"))[:-2]]
    produce(settings, values, headers=[("pms.fetch_id", b"f-1")])
    loader = start(loaders, settings, options())
    outcomes = run_until_caught_up(loader, settings)
    assert sorted(stored(db, hotel)) == ["R-1", "R-2"]
    assert sum(len(o.rejects) for o in outcomes) == 3

    dead = _dlq_messages(settings, 3)
    assert len(dead) == 3
    sent = {b"\x00garbage", encode_booking(bad_row), encode_booking(make_booking(hotel, "R-3"))[:-2]}
    assert {m.value for m in dead} == sent
    for m in dead:
        h = header_dict(m.headers)
        assert h[dlq_names.STAGE] == b"load" and h[dlq_names.CLASS] == b"PMSLoadError"
        assert h[dlq_names.SOURCE_TOPIC] == settings.topics.bookings.encode()
        assert int(h[dlq_names.SOURCE_OFFSET]) >= 0
        assert h["pms.fetch_id"] == b"f-1"  # the original headers travel with it
    row_reject = next(m for m in dead if m.value == encode_booking(bad_row))
    h = header_dict(row_reject.headers)
    assert h[dlq_names.PATH] == b"adults" and h[dlq_names.CONFIG_HASH] == b"cfg-1"
    assert row_reject.key == hotel.encode()


def test_pmsync_loader_command_loads_serves_metrics_logs_json_and_stops_on_sigterm(
        settings, topics, db, database, hotel):
    produce(settings, [make_booking(hotel, f"R-{i}") for i in range(10)])
    port = unused_port()
    env = {**os.environ, "PMSYNC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "PMSYNC_DATABASE_URL": database.dsn, "PMSYNC_TOPIC_BOOKINGS": settings.topics.bookings,
           "PMSYNC_TOPIC_DLQ": settings.topics.dlq, "PMSYNC_TOPIC_PREFIX": ""}
    proc = subprocess.Popen([sys.executable, "-c", "from pmsync.cli import main; main()", "loader",
                             "--batch-size", "100", "--max-wait-ms", "200", "--metrics-port", str(port),
                             "--group-id", f"cli-{uuid.uuid4().hex[:6]}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(stored(db, hotel)) < 10:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the loader command stored nothing"
            time.sleep(0.2)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert 'pmsync_loader_bookings_total{outcome="written"} 10.0' in metrics
        assert "pmsync_loader_batch_seconds_count" in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [line for line in proc.stderr.read().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert any(r["message"] == "batch stored" and r["service"] == "loader" for r in records)
    assert records[-1]["message"] == "loader stopped"
    assert "pmsync:pmsync@" not in "\n".join(lines)  # no DSN password in the logs


def test_database_down_keeps_the_batch_uncommitted_and_retries_it(settings, topics, db, loaders, hotel):
    import dataclasses
    produce(settings, [make_booking(hotel, f"R-{i}") for i in range(5)])
    down = dataclasses.replace(settings, database_url=settings.database_url.rsplit("/", 1)[0] + "/no_such_db")
    loader = start(loaders, down, options(retry_backoff_s=0.05))
    deadline = time.monotonic() + 30
    while loader.retrying is None:
        assert time.monotonic() < deadline, "the loader never received the batch"
        assert loader.step() is None
    parts = [TopicPartition(settings.topics.bookings, p) for p in range(settings.partitions)]
    assert all(loader.committed(tp) is None for tp in parts)
    assert loader.step() is None  # still down: same batch, still nothing committed
    loader.settings = settings    # the database is back
    run_until_caught_up(loader, settings)
    assert sorted(stored(db, hotel)) == sorted(f"R-{i}" for i in range(5))


def test_a_reject_too_large_for_the_dlq_goes_there_as_a_preview_and_the_loader_goes_on(
        settings, db, loaders, hotel):
    # Another producer wrote 2 MB of garbage to a bookings topic that takes 4 MiB messages:
    # the DLQ (1 MiB) refused it whole on every retry, and the loader stalled on that batch.
    import dataclasses

    from pmsync.kafka.limits import PREVIEW_BYTES
    from pmsync.kafka.topics import create_topics, delete_topics, topic_specs
    big = 4 * 1024 * 1024
    create_topics(settings, [dataclasses.replace(s, config={**s.config, "max.message.bytes": str(big)})
                             if s.name == settings.topics.bookings else s for s in topic_specs(settings)])
    try:
        garbage = b"\x07" * 2_000_000
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=big)
        producer.send(settings.topics.bookings, key=b"big", value=garbage)
        producer.send(settings.topics.bookings, key=b"tombstone", value=None)
        producer.send(settings.topics.bookings, key=hotel.encode(), value=encode_booking(make_booking(hotel, "R-1")))
        producer.flush()
        producer.close()
        loader = start(loaders, settings, options())
        outcomes = run_until_caught_up(loader, settings)
        assert sum(len(o.rejects) for o in outcomes) == 2
        assert sorted(stored(db, hotel)) == ["R-1"]
        dead = {m.key: m for m in _dlq_messages(settings, 2)}
        assert set(dead) == {b"big", b"tombstone"}
        assert dead[b"big"].value == garbage[:PREVIEW_BYTES]
        reason = header_dict(dead[b"big"].headers)[dlq_names.MESSAGE].decode()
        assert "Replaying this preview cannot work" in reason and "2,000," in reason
        assert header_dict(dead[b"tombstone"].headers)[dlq_names.STAGE] == b"load"
    finally:
        delete_topics(settings)
