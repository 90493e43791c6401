"""Loader batches without services: what a batch commits, which version wins, what is rejected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmsync.db.bookings import newest_per_key, updated_at_key
from pmsync.loader.batch import Batch, Message, PartitionRange
from pmsync.loader.store import decode
from pmsync.serde.avro import encode_booking


def msg(partition: int, offset: int, value: bytes | None = b"", topic: str = "bk") -> Message:
    return Message(topic, partition, offset, b"hotel", value, [])


def version(external_id: str, updated_at: str, source_offset: int = 0, hotel: str = "h1") -> tuple:
    return (hotel, external_id), updated_at_key(updated_at), source_offset


def test_batch_commits_the_offset_after_the_last_message_of_each_partition():
    batch = Batch.of([msg(2, 10), msg(0, 5), msg(2, 11), msg(0, 6), msg(0, 7)])
    assert batch.ranges == [PartitionRange("bk", 0, 5, 7), PartitionRange("bk", 2, 10, 11)]
    assert batch.next_offsets() == {("bk", 0): 8, ("bk", 2): 12}


def test_an_empty_batch_commits_nothing():
    assert Batch.of([]).next_offsets() == {} and not Batch.of([])


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**12)), min_size=1, max_size=50))
def test_next_offsets_cover_every_message_in_the_batch(positions):
    batch = Batch.of([msg(p, o) for p, o in positions])
    commit = batch.next_offsets()
    assert all(commit[("bk", p)] > o for p, o in positions)
    assert all(commit[("bk", p)] - 1 in {o for q, o in positions if q == p} for (_, p) in commit)


def test_newest_version_wins_by_time_then_raw_offset_then_batch_position():
    versions = [
        version("A", "2026-04-20T09:00:00Z"),
        version("A", "2026-04-20T11:00:00Z"),          # newest A
        version("A", "2026-04-20T10:00:00Z"),
        version("B", "2026-04-20T09:00:00Z", 5),       # higher raw offset beats ...
        version("B", "2026-04-20T09:00:00Z", 4),       # ... a later position
        version("C", "2026-04-20T09:00:00Z", 1),
        version("C", "2026-04-20T09:00:00Z", 1),       # identical: the later message wins
        version("A", "2026-04-20T11:00:00Z", hotel="h2"),  # another hotel, another booking
    ]
    assert newest_per_key(versions) == [1, 3, 6, 7]


def test_times_compare_as_instants_not_as_text():
    # ".5" sorts before "Z" as text, but 09:00:00.5 is later than 09:00:00.
    versions = [version("A", "2026-04-20T09:00:00.500000+00:00"), version("A", "2026-04-20T09:00:00Z")]
    assert newest_per_key(versions) == [0]


@pytest.mark.parametrize("value", ["yesterday", "2026-04-20T09:00:00", None, 1714000000])
def test_source_updated_at_must_be_an_aware_iso_time(value):
    with pytest.raises(ValueError, match="source_updated_at"):
        updated_at_key(value)


def _booking(**changes) -> dict:
    value = {"external_id": "R-1", "status": "CONFIRMED", "check_in": "2026-05-01",
             "check_out": "2026-05-04",
             "guest": {"first_name": None, "last_name": None, "email": None, "phone": None},
             "room_number": None, "room_type": None, "adults": 2, "children": None,
             "total_amount": None, "currency": None, "source_updated_at": "2026-04-20T08:15:00Z",
             "hotel_id": "h1", "pms_type": "generic", "pms_version": "1", "config_hash": "c",
             "source_topic": "pms.raw.v1", "source_partition": 0, "source_offset": 1}
    value.update(changes)
    return value


def test_decode_keeps_order_and_turns_every_bad_message_into_a_reject():
    good = encode_booking(_booking())
    batch = Batch.of([msg(0, 0, good), msg(0, 1, b"{}"), msg(0, 2, None),
                      msg(0, 3, encode_booking(_booking(source_updated_at="20/04/2026"))),
                      msg(0, 4, good)])
    items, rejects = decode(batch)
    assert [i.message.offset for i in items] == [0, 4]
    assert [r.message.offset for r in rejects] == [1, 2, 3]
    assert all(r.error.stage == "load" for r in rejects)
    assert rejects[2].error.field == "source_updated_at" and rejects[2].booking is not None


def test_a_booking_without_adults_is_rejected_before_the_database():
    items, rejects = decode(Batch.of([msg(0, 0, encode_booking(_booking(adults=None)))]))
    assert items == [] and rejects[0].error.field == "adults"
    assert "h1/R-1" in rejects[0].error.message
