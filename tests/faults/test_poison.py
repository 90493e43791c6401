"""Poison on every topic of a running, loaded pipeline: garbage bytes, non-JSON, tombstones,
2 MB values (on topics another producer created with a larger ``max.message.bytes``),
missing headers, and an invalid and a foreign record on the configs topic, compacted away
the valid config they follow. Every worker stays up, each poison message is dead-lettered
exactly once (once on the DLQ topic, one row in the sink), a restarted worker still has every
valid config, and the real load still ends exactly at the simulator's truth."""

from __future__ import annotations

import time

import orjson
import psycopg
import pytest

from pmsync.kafka import headers as h
from tests.faults.load import expected_output, finish, start_load
from tests.integration.test_poison_topics import LARGE_TOPIC_BYTES, produce, read_all, valid_record

pytestmark = pytest.mark.timeout(900)

POISON_HOTEL = b"poison-hotel"
HEADERS = [(h.HOTEL_ID, POISON_HOTEL), (h.PMS_TYPE, b"cloudbeds"), (h.PMS_VERSION, b"1.2")]
CONFIG_KEY = b"cloudbeds:1.2"
# The configs topic compacts as soon as it can, so the invalid record really replaces the
# valid one in the log (what a restarted worker then reads).
COMPACT_NOW = {"segment.ms": "1000", "min.cleanable.dirty.ratio": "0.001", "min.compaction.lag.ms": "0"}


def poison_by_topic() -> dict[str, dict[bytes, tuple[bytes | None, list]]]:
    """Topic role → {key: (value, headers)}; every key names its topic and kind."""
    record = orjson.dumps(valid_record())
    big = orjson.dumps(dict(valid_record(), notes="x" * 2_000_000))
    # Maps to a 2 MB booking: fits the validated topic, not the bookings one.
    big_booking = orjson.dumps(dict(valid_record(), guestFirstName="y" * 2_000_000))
    kinds = {
        "raw": {"garbage": (b"\x00\xff\xfe\x81", HEADERS), "not-json": (b"reservation: {", HEADERS),
                "tombstone": (None, HEADERS), "no-headers": (record, []),
                "2mb-valid": (big, HEADERS), "2mb-garbage": (b"\x01" * 2_000_000, HEADERS)},
        "validated": {"garbage": (b"\xc3\x28", HEADERS), "not-json": (b"{{", HEADERS),
                      "no-headers": (record, []), "2mb-booking": (big_booking, HEADERS)},
        "bookings": {"garbage": (b"\x00\x01not avro", HEADERS), "not-json": (b"{{", HEADERS),
                     "no-headers": (b"\xc3\x01garbage", []), "2mb-garbage": (b"\x02" * 2_000_000, HEADERS)},
        "dlq": {"garbage": (b"\x00\xff", []), "not-json": (b"{{", HEADERS)},
    }
    return {topic: {f"poison-{topic}-{kind}".encode(): item for kind, item in items.items()}
            for topic, items in kinds.items()}


def _configs_records(pipeline) -> list[tuple[bytes, bytes | None]]:
    return [(m.key, m.value) for key, messages in read_all(pipeline.settings, pipeline.settings.topics.configs).items()
            for m in messages]


def test_poison_on_every_topic_is_dead_lettered_once_and_no_worker_stops(pipeline, scale, record):
    t = pipeline.settings.topics
    large = {"max.message.bytes": str(LARGE_TOPIC_BYTES)}
    start_load(pipeline, scale, topic_config={t.raw: large, t.validated: large, t.bookings: large,
                                              t.configs: COMPACT_NOW})
    pipeline.wait_for_progress("fetcher", int(expected_output(scale, "fetcher") * 0.25), 120)
    poison = poison_by_topic()
    for role, items in poison.items():
        produce(pipeline.settings, getattr(t, role), [(k, v, hs) for k, (v, hs) in items.items()])

    # The configs topic: an invalid body for a config in use, then a foreign record; once the
    # log cleaner has compacted the valid body away, restart the workers that read configs.
    produce(pipeline.settings, t.configs, [(CONFIG_KEY, b"{not a config", [])])
    time.sleep(1.5)   # past segment.ms: the next record rolls the segment, so it can be compacted
    produce(pipeline.settings, t.configs, [(b"foreign:record", b"\x00\xff", [])])
    pipeline.wait_for(lambda: [v for k, v in _configs_records(pipeline) if k == CONFIG_KEY] == [b"{not a config"],
                      120, "the log cleaner to compact the valid cloudbeds:1.2 config away", interval=2)
    for worker in ("validator", "mapper"):
        pipeline.services[worker].stop()
        pipeline.restart(worker)
    restarted = time.monotonic()
    pipeline.tick()   # new traffic for every hotel, the cloudbeds 1.2 ones included, after the restart
    pipeline.tick()

    result = finish(pipeline, scale, record, restarted)
    dead = read_all(pipeline.settings, t.dlq)
    expected_keys = [k for items in poison.values() for k in items]
    on_topic = {k: len(dead.get(k, [])) for k in expected_keys}
    assert on_topic == {k: 1 for k in expected_keys}, f"DLQ messages per poison key (want 1 each): {on_topic}"
    with psycopg.connect(pipeline.settings.database_url) as conn:
        rows = dict(conn.execute("SELECT message_key, count(*) FROM dlq_messages WHERE message_key = ANY(%s) "
                                 "GROUP BY 1", (expected_keys,)).fetchall())
    stored = {k: rows.get(k, 0) for k in expected_keys}
    assert stored == {k: 1 for k in expected_keys}, f"sink rows per poison key (want 1 each): {stored}"
    record.did = (f"{len(expected_keys)} poison messages on raw/validated/bookings/dlq (garbage, non-JSON, "
                  f"tombstone, no headers, 2 MB) + an invalid and a foreign config record, compacted; "
                  f"validator and mapper restarted after the compaction")
    record.counts.update({"poison": len(expected_keys), "dead-lettered once": sum(on_topic.values())})
    assert result.ok
    record.passed = True
