"""Property: whatever JSON comes in, out comes a canonical booking or a typed pms error."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmsync.booking import STATUSES, empty_booking
from pmsync.config import compile_config, load_config
from pmsync.config.load import config_files
from pmsync.errors import PMSError
from tests.unit.fixtures.strategies import JSON, mutated

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATHS = config_files(Path(__file__).parent / "fixtures" / "configs") + config_files(ROOT / "pms_configs")


def _family(path: Path):
    compiled = compile_config(load_config(path))
    raw = path.parent / "golden" / path.stem / "raw.json"
    page = orjson.loads(raw.read_bytes()) if raw.is_file() else None
    records = [r for r in compiled.records(page) if isinstance(r, dict)] if page is not None else []
    return compiled, page, records or [{}]


FAMILIES = [_family(p) for p in CONFIG_PATHS]


def assert_canonical(booking: dict) -> None:
    template = empty_booking()
    assert list(booking) == list(template) and list(booking["guest"]) == list(template["guest"])
    assert booking["status"] is None or booking["status"] in STATUSES
    for key in ("check_in", "check_out"):
        assert booking[key] is None or dt.date.fromisoformat(booking[key]).isoformat() == booking[key]
    assert booking["source_updated_at"] is None or re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", booking["source_updated_at"])
    assert booking["total_amount"] is None or (
        re.fullmatch(r"-?\d+\.\d\d", booking["total_amount"]) and Decimal(booking["total_amount"]).is_finite())
    for key in ("adults", "children"):
        assert booking[key] is None or type(booking[key]) is int
    strings = [booking[k] for k in ("external_id", "room_number", "room_type", "currency")]
    for value in strings + list(booking["guest"].values()):
        assert value is None or (isinstance(value, str) and value == value.strip() and value
                                 and "<" not in value and ">" not in value and "\x00" not in value)
    orjson.dumps(booking)  # JSON-ready


def run(compiled, record, context) -> None:
    # map() alone too: the mapper must hold even for a record the schema would have stopped.
    for step in (compiled.process, compiled.map):
        try:
            booking = step(record, context)
        except PMSError as exc:
            assert exc.stage in ("schema", "mapping", "business_rule") and exc.message
            continue
        assert_canonical(booking)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(FAMILIES) - 1), value=JSON)
def test_any_json_value_gives_a_booking_or_a_typed_error(index: int, value) -> None:
    compiled, page, _ = FAMILIES[index]
    run(compiled, value, page)
    try:
        compiled.parse_record(orjson.dumps(value))
    except PMSError as exc:
        assert exc.stage == "schema"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_broken_records_give_a_booking_or_a_typed_error(data) -> None:
    compiled, page, records = data.draw(st.sampled_from(FAMILIES))
    record = data.draw(mutated(records))
    run(compiled, record, page)
    # The same record with only its own join context behaves the same.
    def outcome(context):
        try:
            return compiled.process(record, context)
        except PMSError as exc:
            return (type(exc).__name__, exc.message)
    assert outcome(compiled.context_for(record, page)) == outcome(page)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_parse_to_an_object_or_a_schema_error(data: bytes) -> None:
    compiled = FAMILIES[0][0]
    try:
        assert isinstance(compiled.parse_record(data), dict)
    except PMSError as exc:
        assert exc.stage == "schema"
