"""The bookings topic's Avro contract: single-object encoding of schemas/booking.avsc."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmsync.booking import LINEAGE_FIELDS, STATUSES, empty_booking
from pmsync.errors import PMSLoadError, PMSMappingError
from pmsync.serde.avro import FINGERPRINT, SCHEMA_PATH, decode_booking, encode_booking


def booking(**changes) -> dict:
    value = {"external_id": "R-1001", "status": "CONFIRMED",
             "check_in": "2026-05-01", "check_out": "2026-05-04",
             "guest": {"first_name": "Ana", "last_name": "Silva", "email": "ana@example.com", "phone": None},
             "room_number": "204", "room_type": "DBL", "adults": 2, "children": 1,
             "total_amount": "450.00", "currency": "EUR", "source_updated_at": "2026-04-20T08:15:00Z",
             "hotel_id": "hotel-1", "pms_type": "generic", "pms_version": "1", "config_hash": "c0ffee",
             "source_topic": "pms.raw.v1", "source_partition": 3, "source_offset": 2**40}
    value.update(changes)
    return value


def crc64_avro(data: bytes) -> int:
    """The Avro spec's reference fingerprint algorithm, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_design_example_with_lineage_round_trips_unchanged():
    assert decode_booking(encode_booking(booking())) == booking()


def test_message_starts_with_magic_and_the_schemas_crc64_fingerprint_little_endian():
    from fastavro.schema import to_parsing_canonical_form
    canonical = to_parsing_canonical_form(json.loads(SCHEMA_PATH.read_text()))
    expected = crc64_avro(canonical.encode("utf-8")).to_bytes(8, "little")
    data = encode_booking(booking())
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == expected == FINGERPRINT


def test_known_crc64_vector_from_the_avro_spec_tests():
    # Avro's own test suite: fingerprint of the schema "null" (canonical form "null").
    assert crc64_avro(b'"null"') == 7195948357588979594


def test_every_field_of_the_contract_is_documented_and_lineage_is_present():
    schema = json.loads(SCHEMA_PATH.read_text())
    names = [f["name"] for f in schema["fields"]]
    assert set(LINEAGE_FIELDS) <= set(names)
    assert set(empty_booking()) <= set(names)
    guest = next(f for f in schema["fields"] if f["name"] == "guest")["type"]
    for field in schema["fields"] + guest["fields"]:
        assert field.get("doc"), f"field {field['name']} has no doc"
    status = next(f for f in schema["fields"] if f["name"] == "status")["type"]
    assert tuple(status["symbols"]) == STATUSES


def test_a_consumer_decodes_with_only_fastavro_and_the_schema_file(tmp_path):
    data = encode_booking(booking(status="NO_SHOW", room_number=None, total_amount=None))
    (tmp_path / "message.bin").write_bytes(data)
    # This script is everything a downstream team needs: the .avsc and fastavro, no pmsync.
    script = textwrap.dedent(f"""
        import io, json, sys
        import fastavro
        from fastavro.schema import fingerprint, to_parsing_canonical_form
        raw = json.load(open({str(SCHEMA_PATH)!r}))
        data = open("message.bin", "rb").read()
        assert data[:2] == b"\\xc3\\x01", "magic"
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))
        assert data[2:10] == fp, "fingerprint"
        record = fastavro.schemaless_reader(io.BytesIO(data[10:]), fastavro.parse_schema(raw), None)
        assert not any(m == "pmsync" or m.startswith("pmsync.") for m in sys.modules)
        print(json.dumps(record))
    """)
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == booking(status="NO_SHOW", room_number=None, total_amount=None)


@pytest.mark.parametrize("bad, says", [
    (b"", "not Avro single-object"),
    (b"{\"external_id\": 1}", "not Avro single-object"),
    (b"\xc3\x01" + b"\x00" * 8 + b"\x00", "unknown schema fingerprint"),
    (b"\xc3\x01" + FINGERPRINT, "corrupt Avro body"),
])
def test_bytes_that_are_not_a_booking_are_rejected_with_a_load_error(bad, says):
    with pytest.raises(PMSLoadError, match=says) as caught:
        decode_booking(bad)
    assert caught.value.stage == "load"


def test_truncated_or_padded_messages_are_rejected():
    data = encode_booking(booking())
    for cut in (11, len(data) // 2, len(data) - 1):
        with pytest.raises(PMSLoadError):
            decode_booking(data[:cut])
    with pytest.raises(PMSLoadError, match="unexpected bytes after"):
        decode_booking(data + b"\x00")


def test_non_bytes_input_is_a_load_error_not_a_crash():
    with pytest.raises(PMSLoadError, match="expected bytes"):
        decode_booking("text")  # type: ignore[arg-type]


@pytest.mark.parametrize("changes, field", [
    ({"status": "BOOKED"}, "status"),
    ({"adults": "2"}, "adults"),
    ({"hotel_id": None}, "hotel_id"),
    ({"source_offset": "7"}, "source_offset"),
])
def test_a_booking_that_breaks_the_contract_is_not_encoded_and_names_the_field(changes, field):
    with pytest.raises(PMSMappingError) as caught:
        encode_booking(booking(**changes))
    assert caught.value.field == field
    assert field in caught.value.message


def test_encoding_a_non_dict_is_a_mapping_error():
    with pytest.raises(PMSMappingError, match="must be a dict"):
        encode_booking(None)  # type: ignore[arg-type]


_text = st.none() | st.text(max_size=40)
_bookings = st.fixed_dictionaries({
    "external_id": st.text(min_size=1, max_size=30), "status": st.sampled_from(STATUSES),
    "check_in": st.dates().map(str), "check_out": st.dates().map(str),
    "guest": st.fixed_dictionaries({"first_name": _text, "last_name": _text, "email": _text, "phone": _text}),
    "room_number": _text, "room_type": _text,
    "adults": st.none() | st.integers(0, 2**31 - 1), "children": st.none() | st.integers(0, 50),
    "total_amount": st.none() | st.decimals(0, 10**9, places=2).map(str), "currency": _text,
    "source_updated_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    "hotel_id": st.text(min_size=1, max_size=64), "pms_type": st.text(max_size=20),
    "pms_version": st.text(max_size=10), "config_hash": st.text(max_size=64),
    "source_topic": st.text(max_size=50), "source_partition": st.integers(0, 2**31 - 1),
    "source_offset": st.integers(0, 2**63 - 1),
})


@given(_bookings)
def test_any_valid_booking_round_trips(value):
    assert decode_booking(encode_booking(value)) == value


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_decoder(data):
    try:
        decoded = decode_booking(b"\xc3\x01" + FINGERPRINT + data)
    except PMSLoadError:
        return
    # Some random bodies are valid Avro (varints need not be minimal, so compare values).
    assert decode_booking(encode_booking(decoded)) == decoded
