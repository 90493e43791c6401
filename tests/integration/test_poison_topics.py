"""Poison on every topic, through the real worker loops on real Kafka: garbage bytes, non-JSON,
a tombstone, missing headers, and messages too large for the next topic (written by another
producer to a topic created with a larger ``max.message.bytes``). Each worker stays up, and
each poison message lands in the DLQ exactly once, at the right stage, with a reason."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer

from pmsync.config import load_config
from pmsync.config_store import publish_configs
from pmsync.kafka import dlq
from pmsync.kafka import headers as h
from pmsync.kafka.lag import lag
from pmsync.kafka.limits import PREVIEW_BYTES
from pmsync.kafka.topics import create_topics, delete_topics, topic_specs
from pmsync.serde.avro import decode_booking
from pmsync.settings import Settings
from pmsync.streams.worker import StreamWorker, WorkerSpec
from services.mapper.agent import spec as mapper_spec
from services.validator.agent import spec as validator_spec

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "pms_configs" / "cloudbeds" / "1.2.json"
# What another producer's topic may allow; the pipeline's own limit stays at 1 MiB.
LARGE_TOPIC_BYTES = 4 * 1024 * 1024
HEADERS = [(h.HOTEL_ID, b"poison-hotel"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2")]


@pytest.fixture
def large_topics(settings: Settings):
    """The test's topics, the raw, validated and bookings ones taking 4 MiB messages, and the
    shipped cloudbeds 1.2 config published."""
    t = settings.topics
    specs = [dataclasses.replace(s, config={**s.config, "max.message.bytes": str(LARGE_TOPIC_BYTES)})
             if s.name in (t.raw, t.validated, t.bookings) else s for s in topic_specs(settings)]
    create_topics(settings, specs)
    publish_configs(settings, [load_config(CONFIG)])
    yield t
    delete_topics(settings)


class WorkerThread:
    """A real StreamWorker (consumer group, producer, config follower) on a thread of its own.
    ``stop`` re-raises whatever ended it early: a worker that died fails the test."""

    def __init__(self, settings: Settings, spec: WorkerSpec) -> None:
        self.worker = StreamWorker(settings, spec, max_batch=200)
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=f"worker-{spec.role}", daemon=True)

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self.worker.run())
        except BaseException as exc:  # noqa: BLE001 - handed to the test in stop()
            self.error = exc
        finally:
            self._loop.close()

    def start(self) -> "WorkerThread":
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        if self.alive():
            self._loop.call_soon_threadsafe(self.worker.stop.set)
            self._thread.join(60)
        if self.error is not None:
            raise AssertionError(f"the {self.worker.spec.role} died: {self.error!r}") from self.error


def wait_until_committed(settings: Settings, worker: WorkerThread, timeout: float = 90) -> None:
    """Until the worker's group committed everything on its source topic; fails at once if the
    worker stopped (before the fix, a message too large for the next topic stopped it)."""
    stage = [(settings.group_id(worker.worker.spec.role), worker.worker.spec.source)]
    deadline = time.monotonic() + timeout
    while lag(settings, stage)[stage[0][0]] != 0:
        if not worker.alive():
            worker.stop()  # raises with the reason
        assert time.monotonic() < deadline, f"the {worker.worker.spec.role} did not commit everything"
        time.sleep(0.3)
    assert worker.alive()


def produce(settings: Settings, topic: str, messages: list[tuple[bytes, bytes | None, list]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             max_request_size=LARGE_TOPIC_BYTES)
    try:
        for key, value, headers in messages:
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush(timeout=60)
    finally:
        producer.close()


def read_all(settings: Settings, topic: str) -> dict[bytes, list]:
    """Every message of ``topic`` by key (the tests give each poison message a key of its own)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000,
                             group_id=f"read-{uuid.uuid4().hex[:8]}", fetch_max_bytes=LARGE_TOPIC_BYTES,
                             max_partition_fetch_bytes=LARGE_TOPIC_BYTES)
    found: dict[bytes, list] = defaultdict(list)
    try:
        for message in consumer:
            found[message.key].append(message)
    finally:
        consumer.close()
    return found


def valid_record() -> dict:
    from pmsync.config import compile_config
    compiled = compile_config(load_config(CONFIG))
    for record in compiled.records(orjson.loads((CONFIG.parent / "golden" / "1.2" / "raw.json").read_bytes())):
        try:
            compiled.process(record)
            return record
        except Exception:  # noqa: BLE001 - skip the golden sample's deliberate rejects
            continue
    raise AssertionError("the golden sample has no valid record")


def stage_and_reason(message) -> tuple[str, str]:
    found = h.header_dict(message.headers)
    return found[dlq.STAGE].decode(), found[dlq.MESSAGE].decode()


def test_validator_dead_letters_every_poison_raw_message_once_and_keeps_going(settings, large_topics):
    record = valid_record()
    poison = {
        b"garbage": (b"\x00\xff\xfe\x81", HEADERS),
        b"not-json": (b"reservation: {", HEADERS),
        b"a-list": (b"[1, 2, 3]", HEADERS),
        b"tombstone": (None, HEADERS),
        b"no-headers": (orjson.dumps(record), []),
        b"2mb-valid": (orjson.dumps(dict(record, notes="x" * 2_000_000)), HEADERS),
        b"2mb-garbage": (b"\x01" * 2_000_000, HEADERS),
    }
    produce(settings, large_topics.raw, [(k, v, hs) for k, (v, hs) in poison.items()]
            + [(b"good", orjson.dumps(record), HEADERS)])
    worker = WorkerThread(settings, validator_spec(settings)).start()
    try:
        wait_until_committed(settings, worker)
    finally:
        worker.stop()

    dead = read_all(settings, large_topics.dlq)
    assert {k: len(v) for k, v in dead.items()} == {k: 1 for k in poison}
    stages = {k: stage_and_reason(v[0]) for k, v in dead.items()}
    assert {k: s for k, (s, _) in stages.items()} == {**{k: "schema" for k in poison}, b"no-headers": "config"}
    assert "tombstone" in stages[b"tombstone"][1]
    assert "more than the 900,000 a Kafka message may carry" in stages[b"2mb-valid"][1]
    for key in (b"2mb-valid", b"2mb-garbage"):
        [message] = dead[key]
        assert message.value == poison[key][0][:PREVIEW_BYTES]     # a bounded preview
        assert "Replaying this preview cannot work" in stages[key][1]
        assert h.header_dict(message.headers)[h.HOTEL_ID] == b"poison-hotel"
    assert [m.value for m in read_all(settings, large_topics.validated)[b"good"]] == [orjson.dumps(record)]


def test_mapper_dead_letters_every_poison_validated_message_once_and_keeps_going(settings, large_topics):
    record = valid_record()
    poison = {
        b"garbage": (b"\xc3\x28", HEADERS),
        b"tombstone": (None, HEADERS),
        b"no-headers": (orjson.dumps(record), []),
        b"bad-offset": (orjson.dumps(record), HEADERS + [(h.RAW_OFFSET, b"twelve")]),
        # Valid, and its booking would fit: but nothing the validator sends is this large, so it
        # is judged as it would be on the raw topic, not loaded.
        b"2mb-valid": (orjson.dumps(dict(record, notes="x" * 2_000_000)), HEADERS),
        b"1mb-booking": (orjson.dumps(dict(record, guestFirstName="y" * 1_000_000)), HEADERS),
    }
    produce(settings, large_topics.validated, [(k, v, hs) for k, (v, hs) in poison.items()]
            + [(b"good", orjson.dumps(record), HEADERS)])
    worker = WorkerThread(settings, mapper_spec(settings)).start()
    try:
        wait_until_committed(settings, worker)
    finally:
        worker.stop()

    dead = read_all(settings, large_topics.dlq)
    assert {k: len(v) for k, v in dead.items()} == {k: 1 for k in poison}
    stages = {k: stage_and_reason(v[0]) for k, v in dead.items()}
    # Bytes that are no JSON record fail the raw schema, in the mapper as in the validator.
    assert {k: s for k, (s, _) in stages.items()} == {**{k: "mapping" for k in poison},
                                                       b"no-headers": "config", b"garbage": "schema"}
    for key in (b"2mb-valid", b"1mb-booking"):
        assert f"this message on {large_topics.validated} is " in stages[key][1]
        assert dead[key][0].value == poison[key][0][:PREVIEW_BYTES]
    [good] = read_all(settings, large_topics.bookings)[b"good"]
    assert decode_booking(good.value)["hotel_id"] == "poison-hotel"


def test_poison_on_the_configs_topic_is_reported_and_never_takes_the_valid_config_away(
        settings, large_topics, caplog):
    import logging
    caplog.set_level(logging.INFO, logger="pmsync.streams.registry")
    record = valid_record()
    worker = WorkerThread(settings, validator_spec(settings)).start()
    try:
        produce(settings, large_topics.raw, [(b"before", orjson.dumps(record), HEADERS)])
        wait_until_committed(settings, worker)
        produce(settings, large_topics.configs, [
            (b"cloudbeds:1.2", b'{"pms_type": "cloudbeds", "version": "1.2"}', []),  # invalid body
            (b"cloudbeds:1.2", b"\x00\xff not json", []),                             # garbage
            (b"cloudbeds:1.2", None, []),                                             # tombstone
        ])  # (a record without a key cannot be written: the broker refuses it on a compacted topic)
        deadline = time.monotonic() + 30
        while len([r for r in caplog.records if r.levelname == "ERROR"]) < 3:
            assert worker.alive() and time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            time.sleep(0.2)
        produce(settings, large_topics.raw, [(b"after", orjson.dumps(record), HEADERS)])
        wait_until_committed(settings, worker)
    finally:
        worker.stop()
    assert read_all(settings, large_topics.dlq) == {}
    passed = read_all(settings, large_topics.validated)
    assert sorted(passed) == [b"after", b"before"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert sum("published config rejected" in e for e in errors) >= 2
    assert any("tombstone on the configs topic" in e for e in errors)
