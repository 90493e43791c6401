"""Delta cursors: stored as UTC ISO text, formatted per config, moved back by the overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmsync.errors import PMSConnectionError
from pmsync.fetching.delta import DeltaSpec, format_instant, next_cursor, parse_instant, since_value


def test_the_next_cursor_is_the_fetch_start_minus_the_overlap():
    started = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)
    assert next_cursor(started, DeltaSpec(overlap_seconds=120)) == "2026-11-25T15:58:00Z"


def test_the_first_since_is_the_initial_value_in_the_configured_format():
    spec = DeltaSpec(format="%Y-%m-%d %H:%M:%S", initial="2000-01-01T00:00:00Z")
    assert since_value(None, spec) == "2000-01-01 00:00:00"


def test_a_stored_cursor_is_formatted_for_the_pms():
    assert since_value("2026-03-09T10:11:12Z", DeltaSpec(format="%Y%m%d%H%M%S")) == "20260309101112"
    assert since_value("2026-03-09T10:11:12Z", DeltaSpec(format="iso8601")) == "2026-03-09T10:11:12Z"


def test_times_with_offsets_are_formatted_in_utc():
    local = datetime(2026, 5, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_instant(local, "iso8601") == "2026-04-30T23:30:00Z"


def test_an_initial_the_pms_understands_verbatim_is_passed_through():
    assert since_value(None, DeltaSpec(initial="0")) == "0"


def test_a_corrupt_stored_cursor_is_reported_with_how_to_fix_it():
    with pytest.raises(PMSConnectionError, match="delta_cursor = NULL"):
        since_value("yesterday", DeltaSpec())


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)))
def test_a_cursor_round_trips_through_storage(instant):
    stored = next_cursor(instant, DeltaSpec())
    assert parse_instant(stored) == instant
