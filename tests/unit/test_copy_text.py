"""The loader's COPY lines: read from Avro bytes they equal the reference formatting of the
decoded booking, and they refuse exactly what ``decode_booking`` refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from pmsync.errors import PMSLoadError
from pmsync.serde.avro import HEADER_SIZE, decode_booking, encode_booking
from pmsync.serde.copy_text import NULL, STAGE_COLUMNS, copy_line, staged_booking

from tests.unit.test_avro_codec_agreement import bookings

# Text with the characters COPY must escape, and some that it must not touch.
tricky = st.text(alphabet=st.sampled_from("ab\\\t\n\r N.é€😀\x00"), max_size=12)


def _reference(booking: dict) -> bytes:
    return copy_line(decode_booking(encode_booking(booking)))


@settings(max_examples=300)
@given(bookings)
def test_the_avro_path_writes_the_reference_line(booking):
    staged = staged_booking(encode_booking(booking))
    assert staged.line == _reference(booking) == copy_line(booking)
    assert staged.hotel_id == booking["hotel_id"].encode()
    assert staged.external_id == booking["external_id"].encode()
    assert staged.source_updated_at == booking["source_updated_at"].encode()
    assert staged.source_offset == booking["source_offset"]
    assert staged.has_adults == (booking["adults"] is not None)


@settings(max_examples=300)
@given(bookings, tricky, tricky)
def test_escapes_are_applied_and_columns_stay_apart(booking, external_id, first_name):
    booking = {**booking, "external_id": external_id,
               "guest": {**booking["guest"], "first_name": first_name}}
    line = staged_booking(encode_booking(booking)).line
    assert line == copy_line(booking)
    fields = line.split(b"\t")
    assert len(fields) == len(STAGE_COLUMNS)
    assert b"\n" not in line and b"\r" not in line
    unescaped = fields[0].replace(b"\\\\", b"\x01").replace(b"\\t", b"\t").replace(
        b"\\n", b"\n").replace(b"\\r", b"\r").replace(b"\x01", b"\\")
    assert unescaped == external_id.encode()


def test_null_is_the_copy_null_marker_and_a_value_that_looks_like_it_is_escaped():
    booking = {**decode_booking(encode_booking(_plain())), "room_number": None, "room_type": "\\N"}
    fields = staged_booking(encode_booking(booking)).line.split(b"\t")
    assert fields[STAGE_COLUMNS.index("room_number")] == NULL
    assert fields[STAGE_COLUMNS.index("room_type")] == b"\\\\N"


@settings(max_examples=500)
@given(bookings, st.data())
def test_a_damaged_message_is_refused_exactly_when_decode_booking_refuses_it(booking, data):
    message = bytearray(encode_booking(booking))
    position = data.draw(st.integers(0, len(message) - 1))
    if data.draw(st.booleans()):
        message[position] = data.draw(st.integers(0, 255))
    else:
        del message[position:]
    message = bytes(message)
    try:
        decoded = decode_booking(message)
    except PMSLoadError:
        with pytest.raises((ValueError, IndexError)):
            staged_booking(message)
        return
    assert staged_booking(message).line == copy_line(decoded)


def test_invalid_utf8_and_trailing_bytes_are_refused():
    data = encode_booking(_plain())
    with pytest.raises(ValueError):
        staged_booking(data + b"\x00")
    broken = data.replace(b"Ana", b"A\xffa")
    with pytest.raises(PMSLoadError):
        decode_booking(broken)
    with pytest.raises(ValueError):
        staged_booking(broken)
    with pytest.raises(ValueError):
        staged_booking(data[:HEADER_SIZE - 1])


def _plain() -> dict:
    return {"external_id": "R-1", "status": "CONFIRMED", "check_in": "2026-05-01",
            "check_out": "2026-05-04",
            "guest": {"first_name": "Ana", "last_name": None, "email": None, "phone": None},
            "room_number": "101", "room_type": None, "adults": 2, "children": None,
            "total_amount": "10.00", "currency": "EUR", "source_updated_at": "2026-04-20T08:15:00Z",
            "hotel_id": "h1", "pms_type": "generic", "pms_version": "1", "config_hash": "c",
            "source_topic": "pms.raw.v1", "source_partition": 0, "source_offset": 1}
