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
