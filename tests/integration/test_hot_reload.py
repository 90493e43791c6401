"""Publishing a config changes what running workers do, within seconds and without restart."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer

from pmsync.config import compile_config, load_config
from pmsync.config_store import publish_configs
from pmsync.kafka import headers as h
from pmsync.runner import service
from pmsync.serde.avro import decode_booking

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "pms_configs" / "cloudbeds" / "1.2.json"


def _first_valid(compiled, page) -> dict:
    for record in compiled.records(page):
        try:
            compiled.process(record)
            return record
        except Exception:  # noqa: BLE001 - skip the golden sample's deliberate rejects
            continue
    raise AssertionError("golden sample has no valid record")


def test_publishing_a_new_config_body_changes_mapping_without_restart(settings, topics, tmp_path):
    original = load_config(CONFIG)
    compiled = compile_config(original)
    page = orjson.loads((CONFIG.parent / "golden" / "1.2" / "raw.json").read_bytes())
    record = _first_valid(compiled, page)
    first_status = compiled.process(record)["status"]
    code = next(k for k, v in original.body["status_mappings"].items() if v == first_status)
    changed_body = copy.deepcopy(original.body)
    new_status = "PENDING" if first_status != "PENDING" else "CONFIRMED"
    changed_body["status_mappings"][code] = new_status
    changed = load_config(changed_body)

    publish_configs(settings, [original])
    workers = [service(n, [n], settings, tmp_path).start() for n in ("validator", "mapper")]
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    consumer = KafkaConsumer(topics.bookings, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", group_id="hot-reload-check",
                             consumer_timeout_ms=1000)
    headers = [(h.HOTEL_ID, b"hot-1"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2")]

    def send_and_read() -> dict | None:
        producer.send(topics.raw, key=b"hot-1", value=orjson.dumps(record), headers=headers)
        producer.flush()
        found = None
        for message in consumer:
            found = decode_booking(message.value)
        return found

    try:
        deadline = time.monotonic() + 60
        booking = None
        while booking is None and time.monotonic() < deadline:
            booking = send_and_read()
        assert booking is not None, workers[1].log_tail()
        assert (booking["status"], booking["config_hash"]) == (first_status, original.hash)

        publish_configs(settings, [changed])
        published_at = time.monotonic()
        while time.monotonic() - published_at < 30:
            booking = send_and_read() or booking
            if booking["config_hash"] == changed.hash:
                break
        assert (booking["status"], booking["config_hash"]) == (new_status, changed.hash)
        assert all(w.running() for w in workers)  # no restart happened
    finally:
        for worker in workers:
            worker.stop()
        consumer.close()
        producer.close()


@pytest.mark.parametrize("bad_record", [b'{"pms_type": "cloudbeds", "version": "1.2"}', None],
                         ids=["invalid-body", "tombstone"])
def test_a_starting_worker_maps_with_the_stored_config_when_the_topic_kept_only_a_bad_record(
        settings, topics, caplog, bad_record):
    # What compaction leaves of a valid record followed by a bad one under the same key: the
    # bad one alone. Postgres still holds the config `pmsync config publish` stored.
    import logging

    import psycopg

    from pmsync.config_store import store_config
    from services.mapper.agent import spec as mapper_spec
    from tests.integration.test_poison_topics import WorkerThread, read_all, valid_record

    config = load_config(CONFIG)
    with psycopg.connect(settings.database_url) as conn:
        store_config(conn, config)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    producer.send(topics.configs, key=config.key.encode(), value=bad_record)
    producer.send(topics.validated, key=b"hot-1", value=orjson.dumps(valid_record()),
                  headers=[(h.HOTEL_ID, b"hot-1"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2")])
    producer.flush()
    producer.close()

    caplog.set_level(logging.INFO, logger="pmsync.streams.registry")
    worker = WorkerThread(settings, mapper_spec(settings)).start()
    try:
        deadline = time.monotonic() + 60
        while not (mapped := read_all(settings, topics.bookings)) and time.monotonic() < deadline:
            assert worker.alive()
        dead = read_all(settings, topics.dlq)
    finally:
        worker.stop()
    assert not dead, [dict(m.headers)["error.message"] for ms in dead.values() for m in ms]
    [booking] = mapped[b"hot-1"]
    assert decode_booking(booking.value)["config_hash"] == config.hash
    reported = [r for r in caplog.records if r.levelname == "ERROR" and getattr(r, "config", None) == config.key]
    assert reported, "the bad record must be reported"
    assert any("config taken from Postgres" in r.getMessage() for r in caplog.records)
