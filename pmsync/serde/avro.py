"""The canonical booking (+ lineage) as Avro single-object encoded bytes, and back.

Wire format (Avro spec, "Single-object encoding"): ``C3 01`` + the 8-byte little-endian
CRC-64-AVRO fingerprint of ``schemas/booking.avsc``'s parsing canonical form + the Avro
binary body. A consumer needs only that file and any Avro library to read the topic.

The schema is parsed once at import. This module must never guess: bytes that are not a
booking of this exact schema raise :class:`pmsync.errors.PMSLoadError` (stage ``load``), and a
dict that does not fit the schema raises :class:`pmsync.errors.PMSMappingError` naming the
field, so the mapper can reject it to the DLQ instead of publishing a broken contract.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Final

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from fastavro.validation import ValidationError, validate

from pmsync.booking import FIELDS, LINEAGE_FIELDS, STATUSES, from_row
from pmsync.errors import PMSLoadError, PMSMappingError
from pmsync.serde.codec import LONG_BYTES, compile_encoder, zigzag_varint
from pmsync.settings import REPO_ROOT

SCHEMA_PATH: Final = REPO_ROOT / "schemas" / "booking.avsc"
MAGIC: Final = b"\xc3\x01"
HEADER_SIZE: Final = 10


def _load(path: Path) -> tuple[dict, Any, bytes]:
    raw = json.loads(path.read_text())
    parsed = fastavro.parse_schema(raw)
    # fastavro's CRC-64-AVRO hex string is already the little-endian byte order the spec wants.
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))
    return raw, parsed, fp


SCHEMA, PARSED_SCHEMA, FINGERPRINT = _load(SCHEMA_PATH)
_HEADER: Final = MAGIC + FINGERPRINT
# The general encoder is compiled once from the same schema (see pmsync.serde.codec for why);
# the mapper's and the loader's hot paths use encode_row and _read_body, written for it.
_ENCODE: Final = compile_encoder(PARSED_SCHEMA)


_ENCODE_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, OverflowError)

# encode_row below is written for this structure of booking.avsc (its parsing canonical form's
# fingerprint): a change to the schema's fields or types must change encode_row too.
_ROW_LAYOUT_FINGERPRINT: Final = "9ae97ee930779d2e"
if FINGERPRINT.hex() != _ROW_LAYOUT_FINGERPRINT:
    raise RuntimeError(f"{SCHEMA_PATH} changed structure (fingerprint {FINGERPRINT.hex()}): "
                       f"update pmsync.serde.avro.encode_row and _ROW_LAYOUT_FINGERPRINT")
if tuple(f["name"] for f in PARSED_SCHEMA["fields"][-len(LINEAGE_FIELDS):]) != LINEAGE_FIELDS:
    raise RuntimeError(f"{SCHEMA_PATH} must end with the lineage fields {LINEAGE_FIELDS}")
_FIELD_TYPES: Final = {f["name"]: f["type"] for f in PARSED_SCHEMA["fields"]}
_ENCODE_ORIGIN: Final = [compile_encoder(_FIELD_TYPES[name]) for name in LINEAGE_FIELDS[:5]]
_ENCODE_PARTITION: Final = compile_encoder(_FIELD_TYPES["source_partition"])
_ENCODE_OFFSET: Final = compile_encoder(_FIELD_TYPES["source_offset"])
_STATUS: Final = {symbol: bytes([2 * i]) for i, symbol in enumerate(STATUSES)}
_INT_RANGE: Final = range(-2 ** 31, 2 ** 31)


def encode_booking(booking: dict) -> bytes:
    """The booking (canonical fields + lineage) as single-object encoded Avro bytes."""
    out = [_HEADER]
    try:
        _ENCODE(booking, out)
    except _ENCODE_ERRORS as exc:
        raise _encode_error(booking, exc) from None
    return b"".join(out)


def encode_row(row: tuple, hotel_id: str, pms_type: str, pms_version: str, config_hash: str,
               source_topic: str, source_partition: int, source_offset: int) -> bytes:
    """``encode_booking(from_row(row) + lineage)``, byte for byte: the mapper's hot path.

    Written out for the booking's fields (``row`` in ``FIELDS`` order) instead of going
    through the compiled encoder: with the dict it replaces, that saves about a fifth of the
    mapper's per-record time. tests/unit/test_avro_codec_agreement.py holds it to fastavro's
    bytes, and the fingerprint check above to this schema. The lineage fields but the
    position repeat for every booking of a hotel, so their bytes are cached."""
    out = [_HEADER]
    append, small, varint = out.append, LONG_BYTES, zigzag_varint
    try:
        (external_id, status, check_in, check_out, first_name, last_name, email, phone,
         room_number, room_type, adults, children, total_amount, currency, updated) = row
        data = external_id.encode()  # a non-string (or null) has no encode(): AttributeError
        append(small.get(len(data)) or varint(len(data)))
        append(data)
        append(_STATUS[status])
        for text in (check_in, check_out):
            data = text.encode()
            append(small.get(len(data)) or varint(len(data)))
            append(data)
        # The optional fields, in schema order: strings, then the two ints, then strings.
        for ints, values in ((False, (first_name, last_name, email, phone, room_number, room_type)),
                             (True, (adults, children)), (False, (total_amount, currency))):
            for value in values:
                if value is None:
                    append(b"\x00")
                elif not ints:
                    data = value.encode()
                    append(b"\x02")
                    append(small.get(len(data)) or varint(len(data)))
                    append(data)
                elif type(value) is int and value in _INT_RANGE:
                    append(b"\x02")
                    append(small.get(value) or varint(value))
                else:
                    raise TypeError(f"expected an Avro int, got {value!r}")
        data = updated.encode()
        append(small.get(len(data)) or varint(len(data)))
        append(data)
        append(_origin_bytes(hotel_id, pms_type, pms_version, config_hash, source_topic))
        _ENCODE_PARTITION(source_partition, out)
        _ENCODE_OFFSET(source_offset, out)
    except _ENCODE_ERRORS as exc:
        lineage = (hotel_id, pms_type, pms_version, config_hash, source_topic, source_partition,
                   source_offset)
        booking = from_row(row) if isinstance(row, tuple) and len(row) == len(FIELDS) else row
        if isinstance(booking, dict):
            booking = {**booking, **dict(zip(LINEAGE_FIELDS, lineage))}
        raise _encode_error(booking, exc) from None
    return b"".join(out)


@functools.lru_cache(maxsize=4096)
def _origin_bytes(hotel_id: str, pms_type: str, pms_version: str, config_hash: str,
                  source_topic: str) -> bytes:
    out: list[bytes] = []
    for encode, value in zip(_ENCODE_ORIGIN, (hotel_id, pms_type, pms_version, config_hash, source_topic)):
        encode(value, out)
    return b"".join(out)


def _encode_error(booking: Any, exc: Exception) -> PMSMappingError:
    # Only on the failure path: fastavro's writer errors rarely name the field, its validator does.
    if not isinstance(booking, dict):
        return PMSMappingError(f"a booking must be a dict, got {type(booking).__name__}")
    try:
        validate(booking, PARSED_SCHEMA, raise_errors=True)
    except ValidationError as verr:
        # A union field reports one error per branch tried; together they are what was expected.
        problems = [p for p in verr.errors if getattr(p, "field", None) == getattr(verr.errors[0], "field", None)]
        field = str(getattr(problems[0], "field", "") or "").removeprefix("dev.pmsync.Booking.") or None
        value = getattr(problems[0], "datum", None)
        expected = " or ".join(_expected(getattr(p, "schema", None)) for p in problems)
        return PMSMappingError(f"booking field {field or '?'} is {_short(value)}, expected {expected} "
                               f"(schemas/booking.avsc; fix the mapping that produces it)", field=field)
    return PMSMappingError(f"booking does not fit schemas/booking.avsc: {_short(exc)}")


def _expected(schema: Any) -> str:
    """A one-line description of an Avro type (the parsed schema would dump the whole record)."""
    if isinstance(schema, list):
        return " or ".join(_expected(s) for s in schema)
    if isinstance(schema, dict):
        if schema.get("type") == "enum":
            return "one of " + ", ".join(schema["symbols"])
        return str(schema.get("name") or schema.get("type"))
    return str(schema)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def decode_booking(data: bytes) -> dict:
    """A booking dict from single-object encoded bytes; PMSLoadError if they are not one.

    The body is read by ``read_fields``, written out for this schema like ``encode_row``
    (fastavro took 12.5 µs). fastavro stays the reference:
    tests/unit/test_avro_codec_agreement.py holds the two to the same result."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PMSLoadError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data) if not isinstance(data, bytes) else data
    if len(data) < HEADER_SIZE or data[:2] != MAGIC:
        raise PMSLoadError(
            f"not Avro single-object encoding: starts with {data[:2].hex() or 'nothing'}, "
            f"expected c301 (was the message produced by something other than the mapper?)")
    if data[2:HEADER_SIZE] != FINGERPRINT:
        raise PMSLoadError(
            f"unknown schema fingerprint {data[2:HEADER_SIZE].hex()}; this loader reads "
            f"{FINGERPRINT.hex()} (schemas/booking.avsc): deploy the schema that wrote it")
    try:
        values, end = _read_body(data, HEADER_SIZE)
    except (IndexError, ValueError, KeyError) as exc:  # UnicodeDecodeError is a ValueError
        raise PMSLoadError(f"corrupt Avro body ({type(exc).__name__}: {exc})") from None
    if end != len(data):
        raise PMSLoadError(f"{len(data) - end} unexpected bytes after the Avro body "
                           f"(corrupt or concatenated message)")
    booking = from_row(values[:len(FIELDS)])
    booking.update(zip(LINEAGE_FIELDS, values[len(FIELDS):]))
    return booking


# How each value of a row is written, in schema order (fingerprint-checked above).
KIND_STRING, KIND_OPTIONAL_STRING, KIND_OPTIONAL_INT, KIND_ENUM, KIND_LONG = range(5)
ROW_KINDS: Final = (
    KIND_STRING, KIND_ENUM, KIND_STRING, KIND_STRING,                          # id, status, dates
    KIND_OPTIONAL_STRING, KIND_OPTIONAL_STRING, KIND_OPTIONAL_STRING, KIND_OPTIONAL_STRING,  # guest
    KIND_OPTIONAL_STRING, KIND_OPTIONAL_STRING, KIND_OPTIONAL_INT, KIND_OPTIONAL_INT,  # room, adults, children
    KIND_OPTIONAL_STRING, KIND_OPTIONAL_STRING, KIND_STRING,                   # amount, currency, updated
    KIND_STRING, KIND_STRING, KIND_STRING, KIND_STRING, KIND_STRING, KIND_LONG, KIND_LONG)  # lineage
STATUS_POSITION: Final = ROW_KINDS.index(KIND_ENUM)


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``: (value, position after it)."""
    byte = data[pos]
    n, shift = byte & 0x7F, 7
    pos += 1
    while byte & 0x80:
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
        byte = data[pos]
        n |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
    if n >> 64:  # a tenth byte with more than one bit: no long encodes to it
        raise ValueError("varint does not fit 64 bits")
    return (n >> 1) ^ -(n & 1), pos


def read_fields(data: bytes, pos: int) -> tuple[list, int]:
    """The body's values in schema order and the position after them. Strings stay raw UTF-8
    bytes (undecoded: the loader writes them to COPY as they are), the status is its symbol's
    index, and a null union value is None. ValueError or IndexError if the bytes are not
    such a body; every check is here, so both readers (``decode_booking`` and
    ``pmsync.serde.copy_text``) refuse the same messages."""
    values: list = []
    append = values.append
    for kind in ROW_KINDS:
        if kind == KIND_OPTIONAL_STRING or kind == KIND_OPTIONAL_INT:
            branch = data[pos]
            pos += 1
            if branch == 0:
                append(None)
                continue
            if branch != 2:
                raise ValueError(f"union branch {branch} is not null or a value")
        if kind == KIND_STRING or kind == KIND_OPTIONAL_STRING:
            size = data[pos]
            if size < 0x80:  # a one-byte length (up to 63), read without the call
                size = size >> 1 if not size & 1 else -1  # odd is negative: refused below
                pos += 1
            else:
                size, pos = read_long(data, pos)
            end = pos + size
            if size < 0 or end > len(data):
                raise ValueError(f"string of {size} bytes at {pos} does not fit the message")
            append(data[pos:end])
            pos = end
            continue
        value, pos = read_long(data, pos)
        if kind == KIND_ENUM and not 0 <= value < len(STATUSES):
            raise ValueError(f"status index {value} is not a BookingStatus")
        if kind == KIND_OPTIONAL_INT and not -2 ** 31 <= value < 2 ** 31:
            raise ValueError(f"{value} does not fit an Avro int")
        append(value)
    return values, pos


def _read_body(data: bytes, pos: int) -> tuple[list, int]:
    values, pos = read_fields(data, pos)
    values = [v.decode() if type(v) is bytes else v for v in values]
    values[STATUS_POSITION] = STATUSES[values[STATUS_POSITION]]
    return values, pos
