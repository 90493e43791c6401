"""The stream workers' two steps, without Kafka: where each message goes and what it carries."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pmsync.kafka import dlq
from pmsync.kafka import headers as h
from pmsync.serde.avro import decode_booking
from pmsync.streams.registry import ConfigRegistry
from pmsync.streams.steps import Message, map_step, validate_step

CONFIG = Path(__file__).resolve().parents[2] / "pms_configs" / "cloudbeds" / "1.2.json"
GOLDEN = CONFIG.parent / "golden" / "1.2" / "raw.json"


@pytest.fixture(scope="module")
def registry() -> ConfigRegistry:
    registry = ConfigRegistry()
    registry.apply("cloudbeds:1.2", CONFIG.read_bytes())
    return registry


@pytest.fixture(scope="module")
def records(registry) -> list[dict]:
    return registry.get("cloudbeds", "1.2").records(orjson.loads(GOLDEN.read_bytes()))


def _message(value: bytes, headers: list | None = None, offset: int = 41) -> Message:
    if headers is None:
        headers = [(h.HOTEL_ID, b"hotel-7"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2")]
    return Message(b"hotel-7", value, headers, "pms.raw.v1", 2, offset)


def _valid(registry, records) -> dict:
    compiled = registry.get("cloudbeds", "1.2")
    for record in records:
        try:
            compiled.process(record)
            return record
        except Exception:  # noqa: BLE001 - looking for the first record that passes
            continue
    raise AssertionError("the golden sample has no valid record")


def test_validate_passes_the_bytes_on_with_the_raw_position(registry, records):
    value = orjson.dumps(_valid(registry, records))
    routed = validate_step(registry, _message(value))
    assert routed.ok and routed.value == value
    headers = dict(routed.headers)
    assert (headers[h.RAW_TOPIC], headers[h.RAW_PARTITION], headers[h.RAW_OFFSET]) == (b"pms.raw.v1", b"2", b"41")


def test_validate_replaces_an_earlier_raw_position(registry, records):
    # A message replayed to the raw topic may still carry the position of its first trip.
    stale = [(h.HOTEL_ID, b"hotel-7"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2"),
             (h.RAW_TOPIC, b"old.raw"), (h.RAW_PARTITION, b"0"), (h.RAW_OFFSET, b"7")]
    routed = validate_step(registry, _message(orjson.dumps(_valid(registry, records)), stale, offset=99))
    assert routed.ok
    assert [(k, v) for k, v in routed.headers if k.startswith("pms.raw.")] == \
        [(h.RAW_TOPIC, b"pms.raw.v1"), (h.RAW_PARTITION, b"2"), (h.RAW_OFFSET, b"99")]
    assert stale[3:] == [(h.RAW_TOPIC, b"old.raw"), (h.RAW_PARTITION, b"0"), (h.RAW_OFFSET, b"7")]  # not mutated


def test_validate_rejects_a_schema_violation_with_the_original_bytes(registry, records):
    record = dict(_valid(registry, records), adults="two")
    value = orjson.dumps(record)
    routed = validate_step(registry, _message(value))
    assert not routed.ok and routed.value == value
    headers = dict(routed.headers)
    assert headers[dlq.STAGE] == b"schema"
    assert headers[dlq.SOURCE_OFFSET] == b"41" and headers[h.HOTEL_ID] == b"hotel-7"


def test_a_message_without_a_published_config_is_rejected_saying_what_to_do(registry):
    headers = [(h.HOTEL_ID, b"hotel-7"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"9.9")]
    routed = validate_step(registry, _message(b"{}", headers))
    assert not routed.ok
    assert "pmsync config publish" in dict(routed.headers)[dlq.MESSAGE].decode()


def test_map_writes_the_canonical_booking_with_lineage_from_the_raw_position(registry, records):
    record = _valid(registry, records)
    raw_position = [(h.RAW_TOPIC, b"pms.raw.v1"), (h.RAW_PARTITION, b"5"), (h.RAW_OFFSET, b"1234567")]
    message = Message(b"hotel-7", orjson.dumps(record),
                      [(h.HOTEL_ID, b"hotel-7"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2"),
                       *raw_position], "pms.validated.v1", 0, 9)
    routed = map_step(registry, message)
    assert routed.ok
    booking = decode_booking(routed.value)
    compiled = registry.get("cloudbeds", "1.2")
    assert {k: v for k, v in booking.items() if k in compiled.map(record)} == compiled.map(record)
    assert (booking["hotel_id"], booking["pms_type"], booking["pms_version"], booking["config_hash"]) == \
        ("hotel-7", "cloudbeds", "1.2", compiled.hash)
    assert (booking["source_topic"], booking["source_partition"], booking["source_offset"]) == \
        ("pms.raw.v1", 5, 1234567)


def test_map_leaves_the_raw_lookup_context_off_the_clean_topic(registry, records):
    # The context is raw PMS data (whole customer records); only what mapping took from it,
    # sanitized, belongs on the bookings topic. A reject keeps it, so a replay can map again.
    record = _valid(registry, records)
    headers = [(h.HOTEL_ID, b"hotel-7"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2"),
               (h.CONTEXT, b'{"Customers": [{"Id": "c1", "Passport": "X123"}]}')]
    routed = map_step(registry, _message(orjson.dumps(record), headers))
    assert routed.ok and [k for k, _ in routed.headers] == [h.HOTEL_ID, h.PMS_TYPE, h.PMS_VERSION]
    rejected = map_step(registry, _message(b'"not an object"', headers))
    assert not rejected.ok and dict(rejected.headers)[h.CONTEXT] == headers[3][1]


def test_map_rejects_a_broken_raw_offset_header_instead_of_guessing(registry, records):
    headers = [(h.HOTEL_ID, b"hotel-7"), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2"),
               (h.RAW_OFFSET, b"twelve")]
    routed = map_step(registry, _message(orjson.dumps(_valid(registry, records)), headers))
    assert not routed.ok
    assert dict(routed.headers)[dlq.STAGE] == b"mapping"


def test_a_tombstone_is_rejected_saying_it_is_one(registry):
    for step, stage in ((validate_step, b"schema"), (map_step, b"mapping")):
        routed = step(registry, _message(None))
        assert not routed.ok and routed.value is None
        headers = dict(routed.headers)
        assert headers[dlq.STAGE] == stage and b"tombstone" in headers[dlq.MESSAGE]
