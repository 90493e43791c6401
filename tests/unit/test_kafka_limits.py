"""``shrink``: a dead letter too large for Kafka becomes one that fits and says what was cut."""

from __future__ import annotations

from pmsync.errors import PMSDataValidationError
from pmsync.kafka import dlq
from pmsync.kafka.dlq import SourcePosition, dlq_headers
from pmsync.kafka.limits import (HEADER_PREVIEW_BYTES, MAX_RECORD_BYTES, PREVIEW_BYTES, fits,
                                 record_bytes, shrink, too_large_error)

WHERE = SourcePosition("pms.raw.v1", 3, 42)


def _dead_letter(value: bytes, original: list) -> tuple[bytes, list]:
    return value, dlq_headers(PMSDataValidationError("adults: 'two' is not an integer", path="$.adults"),
                              WHERE, original=original)


def test_a_large_value_keeps_a_preview_and_every_error_header():
    value, headers = _dead_letter(b"x" * 2_000_000, [("pms.hotel_id", b"h-1")])
    small, kept = shrink(value, headers)
    assert small == value[:PREVIEW_BYTES] and fits(b"h-1", small, kept)
    found = dict(kept)
    assert found["pms.hotel_id"] == b"h-1" and found[dlq.SOURCE_OFFSET] == b"42"
    assert [k for k, _ in dlq.error_headers(kept)] == [k for k, _ in dlq.error_headers(headers)]
    reason = found[dlq.MESSAGE].decode()
    assert reason.startswith("adults: 'two' is not an integer")
    assert "2,000,000 bytes" in reason and "Replaying this preview cannot work" in reason


def test_huge_or_countless_headers_are_cut_to_a_budget_that_fits():
    original = [("pms.hotel_id", b"h-1"), ("pms.context", b"{" * 3_000_000)] + \
        [(f"x-{i}", b"v" * 5000) for i in range(400)]
    value, headers = _dead_letter(b"{}", original)
    small, kept = shrink(value, headers)
    assert record_bytes(None, small, kept) <= MAX_RECORD_BYTES
    assert small == b"{}"
    found = dict(kept)
    assert found["pms.hotel_id"] == b"h-1" and len(found["pms.context"]) == HEADER_PREVIEW_BYTES
    assert "original headers are cut or left out" in found[dlq.MESSAGE].decode()


def test_a_tombstone_becomes_an_empty_value():
    small, _ = shrink(None, _dead_letter(b"", [])[1])
    assert small == b""


def test_the_too_large_reason_names_the_size_the_limit_and_what_to_do():
    error = too_large_error(2_345_678)
    assert error.stage == "schema" and error.location == "$"
    assert "2,345,678 bytes" in error.message and "900,000" in error.message
    assert "re-sync the hotel" in error.message
