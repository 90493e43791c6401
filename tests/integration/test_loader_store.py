"""Storing loader batches in the real Postgres: the upsert's guarantees, without Kafka."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings
from hypothesis import strategies as st

from pmsync.db.bookings import STAGE, BookingStore
from pmsync.loader.batch import Batch, Message
from pmsync.loader.store import store_batch
from pmsync.serde.avro import encode_booking
from pmsync.serde.copy_text import copy_line

pytestmark = pytest.mark.integration

BOOKING_COLUMNS = ("status", "check_in", "check_out", "room_number", "room_type", "adults",
                   "children", "total_amount", "currency", "source_updated_at", "pms_type",
                   "pms_version", "config_hash", "source_topic", "source_partition", "source_offset")


def make_booking(hotel: str, external_id: str, updated_at: str = "2026-04-20T08:15:00Z",
                 source_offset: int = 1, **changes) -> dict:
    value = {"external_id": external_id, "status": "CONFIRMED",
             "check_in": "2026-05-01", "check_out": "2026-05-04",
             "guest": {"first_name": "Ana", "last_name": "Silva", "email": "ana@example.com", "phone": None},
             "room_number": "204", "room_type": "DBL", "adults": 2, "children": 1,
             "total_amount": "450.00", "currency": "EUR", "source_updated_at": updated_at,
             "hotel_id": hotel, "pms_type": "generic", "pms_version": "1", "config_hash": "cfg-1",
             "source_topic": "pms.raw.v1", "source_partition": 0, "source_offset": source_offset}
    value.update(changes)
    return value


def batch_of(*values: dict | bytes, topic: str = "pms.bookings.v1", start: int = 0) -> Batch:
    """Messages on one partition, in order; dicts are Avro-encoded, bytes sent as they are."""
    return Batch.of([Message(topic, 0, start + i, b"hotel",
                             v if isinstance(v, bytes) else encode_booking(v), [])
                     for i, v in enumerate(values)])


@pytest.fixture
def hotel() -> str:
    return f"h-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(database) -> Iterator[BookingStore]:
    conn = psycopg.connect(database.dsn, autocommit=True)
    yield BookingStore(conn)
    conn.close()


def stored(db, hotel: str) -> dict[str, dict]:
    cols = ", ".join(BOOKING_COLUMNS)
    rows = db.execute(f"SELECT external_id, {cols} FROM bookings WHERE hotel_id = %s", (hotel,)).fetchall()
    return {r[0]: dict(zip(BOOKING_COLUMNS, r[1:])) for r in rows}


def guests(db, hotel: str) -> dict[str, tuple]:
    rows = db.execute("SELECT external_id, first_name, last_name, email, phone FROM guests "
                      "WHERE hotel_id = %s", (hotel,)).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_new_bookings_land_with_lineage_guest_and_room(store, db, hotel):
    outcome = store_batch(store, batch_of(make_booking(hotel, "R-1", source_offset=41),
                                          make_booking(hotel, "R-2", room_number="305", room_type="STE")))
    assert (outcome.written, outcome.stale, outcome.rejects) == (2, 0, [])
    row = stored(db, hotel)["R-1"]
    assert str(row["check_in"]) == "2026-05-01" and str(row["total_amount"]) == "450.00"
    assert row["source_updated_at"].isoformat() == "2026-04-20T08:15:00+00:00"
    assert (row["pms_type"], row["config_hash"], row["source_topic"], row["source_offset"]) == \
        ("generic", "cfg-1", "pms.raw.v1", 41)
    assert guests(db, hotel)["R-1"] == ("Ana", "Silva", "ana@example.com", None)
    rooms = db.execute("SELECT room_number, room_type FROM rooms WHERE hotel_id = %s ORDER BY 1",
                       (hotel,)).fetchall()
    assert rooms == [("204", "DBL"), ("305", "STE")]


def test_stale_update_never_overwrites_newer(store, db, hotel):
    store_batch(store, batch_of(make_booking(hotel, "R-1", "2026-04-20T10:00:00Z", status="CHECKED_IN",
                                             guest={"first_name": "New", "last_name": None,
                                                    "email": None, "phone": None})))
    outcome = store_batch(store, batch_of(make_booking(hotel, "R-1", "2026-04-20T09:00:00Z",
                                                       source_offset=99, status="CANCELLED")))
    assert (outcome.written, outcome.stale) == (0, 1)
    assert stored(db, hotel)["R-1"]["status"] == "CHECKED_IN"
    assert guests(db, hotel)["R-1"][0] == "New"


def test_newer_update_replaces_row_lineage_and_guest(store, db, hotel):
    store_batch(store, batch_of(make_booking(hotel, "R-1", "2026-04-20T09:00:00Z", source_offset=5)))
    store_batch(store, batch_of(make_booking(hotel, "R-1", "2026-04-20T10:00:00Z", source_offset=6,
                                             status="CANCELLED", config_hash="cfg-2",
                                             guest={"first_name": "Bea", "last_name": "Silva",
                                                    "email": None, "phone": "+351"})))
    row = stored(db, hotel)["R-1"]
    assert (row["status"], row["config_hash"], row["source_offset"]) == ("CANCELLED", "cfg-2", 6)
    assert guests(db, hotel)["R-1"] == ("Bea", "Silva", None, "+351")


def test_same_timestamp_is_settled_by_the_raw_offset_in_any_order(store, db, hotel):
    low = make_booking(hotel, "R-1", source_offset=7, status="PENDING")
    high = make_booking(hotel, "R-1", source_offset=8, status="CONFIRMED")
    store_batch(store, batch_of(high))
    store_batch(store, batch_of(low))
    assert stored(db, hotel)["R-1"]["status"] == "CONFIRMED"


def test_duplicates_in_one_batch_keep_the_newest_version(store, db, hotel):
    outcome = store_batch(store, batch_of(
        make_booking(hotel, "R-1", "2026-04-20T09:00:00Z", status="PENDING"),
        make_booking(hotel, "R-1", "2026-04-20T11:00:00Z", status="CHECKED_IN"),
        make_booking(hotel, "R-1", "2026-04-20T10:00:00Z", status="CANCELLED"),
        make_booking(hotel, "R-2"),
        make_booking(hotel, "R-2", status="NO_SHOW"),  # same time and offset: later message wins
    ))
    assert (outcome.written, outcome.superseded, outcome.rejects) == (2, 3, [])
    rows = stored(db, hotel)
    assert (rows["R-1"]["status"], rows["R-2"]["status"]) == ("CHECKED_IN", "NO_SHOW")


def test_replaying_a_batch_gives_the_same_rows(store, db, hotel):
    batch = batch_of(*[make_booking(hotel, f"R-{i}", f"2026-04-20T08:{i:02d}:00Z", i) for i in range(30)])
    store_batch(store, batch)
    first = (stored(db, hotel), guests(db, hotel))
    outcome = store_batch(store, batch)
    assert outcome.rejects == [] and outcome.written == 0  # unchanged versions write nothing
    assert (stored(db, hotel), guests(db, hotel)) == first


def test_resyncing_unchanged_bookings_at_later_offsets_changes_nothing(store, db, hotel):
    store_batch(store, batch_of(*[make_booking(hotel, f"R-{i}", source_offset=i) for i in range(5)]))
    first = stored(db, hotel)
    outcome = store_batch(store, batch_of(*[make_booking(hotel, f"R-{i}", source_offset=100 + i)
                                            for i in range(5)]))
    assert outcome.written == 0
    assert stored(db, hotel) == first  # lineage included: a re-fetch is not a new version


@pytest.mark.parametrize("changes, field", [
    ({"adults": None}, "adults"),  # caught before the database, same outcome
    ({"check_in": ""}, "check_in"),
    ({"check_in": "2026-02-30"}, "check_in"),
    ({"currency": "EURO"}, "currency"),
    ({"total_amount": "1e20"}, "total_amount"),
    ({"guest": {"first_name": "A\x00na", "last_name": None, "email": None, "phone": None}}, "first_name"),
])
def test_a_row_postgres_rejects_is_isolated_and_the_rest_stored(store, db, hotel, changes, field):
    values = [make_booking(hotel, f"R-{i}") for i in range(9)]
    values[6] = make_booking(hotel, "R-6", **changes)
    outcome = store_batch(store, batch_of(*values))
    assert [r.message.offset for r in outcome.rejects] == [6]
    error = outcome.rejects[0].error
    assert error.stage == "load" and "R-6" in error.message
    assert error.field == field or field in error.message
    assert sorted(stored(db, hotel)) == sorted(f"R-{i}" for i in range(9) if i != 6)
    assert outcome.written == 8


def test_a_key_too_big_for_its_index_is_isolated_not_retried_forever(store, db, hotel):
    huge = "R-" + os.urandom(4000).hex()  # incompressible, beyond btree's ~2.7 kB entry limit
    outcome = store_batch(store, batch_of(make_booking(hotel, "R-1"), make_booking(hotel, huge),
                                          make_booking(hotel, "R-2")))
    assert [r.message.offset for r in outcome.rejects] == [1]
    assert "54000" in outcome.rejects[0].error.message
    assert sorted(stored(db, hotel)) == ["R-1", "R-2"]


def test_undecodable_messages_are_rejected_and_the_rest_stored(store, db, hotel):
    good = make_booking(hotel, "R-1")
    outcome = store_batch(store, batch_of(b"not avro", good, encode_booking(good)[:-4],
                                          make_booking(hotel, "R-2", updated_at="yesterday")))
    assert [r.message.offset for r in outcome.rejects] == [0, 2, 3]
    assert "source_updated_at" in outcome.rejects[2].error.message
    assert list(stored(db, hotel)) == ["R-1"]


def test_a_tombstone_is_rejected_not_dropped(store, db, hotel):
    batch = Batch.of([Message("pms.bookings.v1", 0, 0, b"k", None, [])])
    outcome = store_batch(store, batch)
    assert len(outcome.rejects) == 1 and "no value" in outcome.rejects[0].error.message


def test_missing_children_is_stored_as_zero(store, db, hotel):
    store_batch(store, batch_of(make_booking(hotel, "R-1", children=None)))
    assert stored(db, hotel)["R-1"]["children"] == 0


def test_rooms_keep_first_and_last_seen_and_the_newest_room_type(store, db, hotel):
    store_batch(store, batch_of(make_booking(hotel, "R-2", "2026-04-22T00:00:00Z", room_type="STE")))
    store_batch(store, batch_of(make_booking(hotel, "R-1", "2026-04-20T00:00:00Z", room_type="DBL"),
                                make_booking(hotel, "R-3", "2026-04-21T00:00:00Z", room_type=None)))
    room = db.execute("SELECT room_type, first_seen_at::date::text, last_seen_at::date::text FROM rooms "
                      "WHERE hotel_id = %s AND room_number = '204'", (hotel,)).fetchone()
    assert room == ("STE", "2026-04-20", "2026-04-22")


_versions = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 5), st.integers(0, 3),
                               st.sampled_from(["PENDING", "CONFIRMED", "CANCELLED"])),
                     min_size=1, max_size=12)


@hyp_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(versions=_versions, data=st.data())
def test_any_order_and_batching_of_versions_ends_in_the_newest(store, db, versions, data):
    hotel = f"p-{uuid.uuid4().hex[:12]}"
    values = [make_booking(hotel, ext, f"2026-04-20T08:00:0{hour}Z", offset, status=status)
              for ext, hour, offset, status in versions]
    order = data.draw(st.permutations(values))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3)))
    # The model: per batch, each key's newest (time, offset, position); it replaces the stored
    # version when newer in time, or equal in time, not lower in offset, and different in content.
    expected: dict[str, tuple] = {}
    for start, end in zip([0, *cuts], [*cuts, len(order)]):
        if not order[start:end]:
            continue
        store_batch(store, batch_of(*order[start:end]))
        newest: dict[str, tuple] = {}
        for position, v in enumerate(order[start:end]):
            rank = (v["source_updated_at"], v["source_offset"], position)
            if v["external_id"] not in newest or rank > newest[v["external_id"]][0]:
                newest[v["external_id"]] = (rank, v)
        for key, (_, v) in newest.items():
            stored_time, stored_offset, stored_status = expected.get(key, (None, None, None))
            if (stored_time is None or v["source_updated_at"] > stored_time
                    or (v["source_updated_at"] == stored_time and v["source_offset"] >= stored_offset
                        and v["status"] != stored_status)):
                expected[key] = (v["source_updated_at"], v["source_offset"], v["status"])
    rows = stored(db, hotel)
    assert {k: (r["source_offset"], r["status"]) for k, r in rows.items()} == \
        {k: (offset, status) for k, (_, offset, status) in expected.items()}


# The rooms upsert as it was before sightings that move nothing were filtered out (it locked
# every re-sighted room): the reference the filtered statement must agree with.
_REFERENCE_ROOMS = f"""
INSERT INTO reference_rooms AS r (hotel_id, room_number, room_type, first_seen_at, last_seen_at)
SELECT hotel_id, room_number,
       (array_agg(room_type ORDER BY source_updated_at DESC) FILTER (WHERE room_type IS NOT NULL))[1],
       min(source_updated_at), max(source_updated_at)
  FROM {STAGE} WHERE room_number IS NOT NULL AND source_updated_at IS NOT NULL
 GROUP BY hotel_id, room_number
ON CONFLICT (hotel_id, room_number) DO UPDATE SET
  room_type = CASE WHEN excluded.last_seen_at >= r.last_seen_at
                   THEN coalesce(excluded.room_type, r.room_type) ELSE r.room_type END,
  first_seen_at = least(r.first_seen_at, excluded.first_seen_at),
  last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at)
WHERE excluded.first_seen_at < r.first_seen_at OR excluded.last_seen_at > r.last_seen_at
   OR (excluded.last_seen_at >= r.last_seen_at AND excluded.room_type IS NOT NULL
       AND excluded.room_type IS DISTINCT FROM r.room_type)"""

_sightings = st.lists(st.lists(st.tuples(st.sampled_from(["101", "102", None]),
                                         st.sampled_from(["DBL", "STE", None])),
                               min_size=1, max_size=6),
                      min_size=1, max_size=5)


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_sightings, data=st.data())
def test_rooms_upsert_skipping_unmoved_rooms_matches_the_lock_everything_statement(store, batches, data):
    hotel = f"r-{uuid.uuid4().hex[:12]}"
    conn = store.conn
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS reference_rooms (LIKE rooms INCLUDING ALL)")
    n = 0
    for batch in batches:
        # Times repeat across batches (a re-read, a replay) but not within one: two newest
        # sightings of one batch at the same time could rightly give either type.
        days = data.draw(st.lists(st.integers(1, 9), min_size=len(batch), max_size=len(batch), unique=True))
        lines = []
        for (room, room_type), day in zip(batch, days):
            lines.append(copy_line(make_booking(hotel, f"R-{n}", f"2026-04-0{day}T08:00:00Z",
                                                room_number=room, room_type=room_type)))
            n += 1
        with conn.transaction():
            store.upsert(lines)
            conn.execute(_REFERENCE_ROOMS)
    query = ("SELECT room_number, room_type, first_seen_at, last_seen_at FROM {} WHERE hotel_id = %s "
             "ORDER BY room_number")
    assert conn.execute(query.format("rooms"), (hotel,)).fetchall() == \
        conn.execute(query.format("reference_rooms"), (hotel,)).fetchall()


def test_rooms_pages_leave_space_for_in_place_updates(db):
    # Room updates touch no indexed column; free page space lets them be HOT (migration 0006).
    options = db.execute("SELECT reloptions FROM pg_class WHERE oid = 'rooms'::regclass").fetchone()[0]
    assert "fillfactor=70" in options


def test_characters_copy_text_escapes_arrive_exactly_as_sent(store, db, hotel):
    # The loader writes COPY text straight from the Avro bytes: every character COPY treats
    # specially must still arrive as the PMS sent it, and "\N" as text must not become null.
    odd = ["tab\there", "new\nline", "carriage\rreturn", "back\\slash", "\\N", "Zoë 😀 €"]
    values = [make_booking(hotel, f"R-{i}\t{text}", room_type=text,
                           guest={"first_name": text, "last_name": None, "email": None, "phone": "\\"})
              for i, text in enumerate(odd)]
    outcome = store_batch(store, batch_of(*values))
    assert outcome.written == len(odd) and not outcome.rejects
    rows = db.execute("SELECT external_id, room_type, guest_first_name, guest_last_name, guest_phone "
                      "FROM bookings WHERE hotel_id = %s", (hotel,)).fetchall()
    assert sorted(rows) == sorted((f"R-{i}\t{t}", t, t, None, "\\") for i, t in enumerate(odd))
