"""Each transform of the closed set, with its edge cases (docs/config-language.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from pmsync.mapping import transforms as t
from pmsync.mapping.transforms import TransformError

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-05-01", dt.date(2026, 5, 1)),
    ("2026-05-01T23:30:00-05:00", dt.date(2026, 5, 1)),   # its own local date, not UTC's May 2
    ("2026-05-01T00:30:00+14:00", dt.date(2026, 5, 1)),   # not UTC's April 30
    ("2026-05-01T15:00:00Z", dt.date(2026, 5, 1)),
    ("2026-05-01T15:00:00", dt.date(2026, 5, 1)),
    ("2028-02-29", dt.date(2028, 2, 29)),                 # leap day
    ("  2026-05-01 ", dt.date(2026, 5, 1)),
])
def test_parse_date_keeps_the_local_date(text: str, expected: dt.date) -> None:
    assert t.parse_date()(text) == expected


def test_parse_date_tries_formats_in_order_after_iso() -> None:
    day_first = t.parse_date(["%d/%m/%Y", "%m/%d/%Y"])
    assert day_first("03/04/2026") == dt.date(2026, 4, 3)
    assert day_first("12/31/2026") == dt.date(2026, 12, 31)   # only the second format reads it
    assert day_first("29/02/2028") == dt.date(2028, 2, 29)
    assert day_first(dt.datetime(2026, 5, 1, 23, 0)) == dt.date(2026, 5, 1)


@pytest.mark.parametrize("value", ["2027-02-29", "31/02/2026", "tomorrow", 20260501, ["2026-05-01"]])
def test_parse_date_refuses_what_it_cannot_read(value: object) -> None:
    with pytest.raises(TransformError, match="parse_date"):
        t.parse_date(["%d/%m/%Y"])(value)


def test_parse_date_error_names_value_and_formats_tried() -> None:
    with pytest.raises(TransformError) as caught:
        t.parse_date(["%d/%m/%Y"])("31/02/2026")
    assert str(caught.value) == "parse_date could not read '31/02/2026' (formats tried: ISO 8601, %d/%m/%Y)"


def test_parse_date_treats_blank_as_missing() -> None:
    assert t.parse_date()("   ") is None


@pytest.mark.parametrize("text, tz, expected", [
    ("2026-04-20T08:15:00Z", "UTC", dt.datetime(2026, 4, 20, 8, 15, tzinfo=UTC)),
    ("2026-04-20T10:15:00+02:00", "UTC", dt.datetime(2026, 4, 20, 8, 15, tzinfo=UTC)),
    ("2026-04-20T08:15:00", "UTC", dt.datetime(2026, 4, 20, 8, 15, tzinfo=UTC)),
    # Europe/Lisbon: WET (+0) in winter, WEST (+1) in summer.
    ("2026-01-15T12:00:00", "Europe/Lisbon", dt.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)),
    ("2026-07-15T12:00:00", "Europe/Lisbon", dt.datetime(2026, 7, 15, 11, 0, tzinfo=UTC)),
    # America/New_York on both sides of the 2026-03-08 change.
    ("2026-03-07T12:00:00", "America/New_York", dt.datetime(2026, 3, 7, 17, 0, tzinfo=UTC)),
    ("2026-03-09T12:00:00", "America/New_York", dt.datetime(2026, 3, 9, 16, 0, tzinfo=UTC)),
    # 01:30 happens twice on 2026-11-01 in New York: the first (EDT, fold=0) is taken.
    ("2026-11-01T01:30:00", "America/New_York", dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    # An explicit offset wins over assume_tz.
    ("2026-07-15T12:00:00+09:00", "Europe/Lisbon", dt.datetime(2026, 7, 15, 3, 0, tzinfo=UTC)),
])
def test_parse_datetime_converts_to_utc(text: str, tz: str, expected: dt.datetime) -> None:
    result = t.parse_datetime(assume_tz=tz)(text)
    assert result == expected and result.utcoffset() == dt.timedelta(0)


def test_parse_datetime_formats_and_errors() -> None:
    assert t.parse_datetime(["%d.%m.%Y %H:%M"])("01.05.2026 15:30") == dt.datetime(2026, 5, 1, 15, 30, tzinfo=UTC)
    with pytest.raises(TransformError, match="parse_datetime could not read 'soon'"):
        t.parse_datetime()("soon")
    with pytest.raises(TransformError, match="out of range in UTC"):
        t.parse_datetime()("0001-01-01T00:30:00+01:00")
    with pytest.raises(ValueError, match="unknown time zone"):
        t.parse_datetime(assume_tz="Nowhere/City")


@pytest.mark.parametrize("value, places, rounding, expected", [
    ("612.40", 2, "ROUND_HALF_UP", "612.40"),
    ("2.675", 2, "ROUND_HALF_UP", "2.68"),
    ("2.665", 2, "ROUND_HALF_EVEN", "2.66"),
    ("2.679", 2, "ROUND_DOWN", "2.67"),
    (0.1, 2, "ROUND_HALF_UP", "0.10"),
    (1.005, 2, "ROUND_HALF_UP", "1.01"),       # read from repr, not binary 1.00499…
    (450, 2, "ROUND_HALF_UP", "450.00"),
    ("-0.001", 2, "ROUND_HALF_UP", "0.00"),     # never "-0.00"
    ("-12.5", 0, "ROUND_HALF_UP", "-13"),
    ("0", 3, "ROUND_HALF_UP", "0.000"),
    ("1e3", 2, "ROUND_HALF_UP", "1000.00"),
    (" 7.5 ", 2, "ROUND_HALF_UP", "7.50"),
])
def test_decimal_quantizes_with_places_and_rounding(value, places, rounding, expected) -> None:
    assert str(t.decimal(places, rounding)(value)) == expected


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1_000", "12,50", "1.2.3", True, [1], "1e999999999"])
def test_decimal_refuses_non_numbers(value: object) -> None:
    with pytest.raises(TransformError, match="decimal"):
        t.decimal()(value)


@pytest.mark.parametrize("value, expected", [("2", 2), (" -3 ", -3), (4, 4), (5.0, 5), (Decimal("6"), 6)])
def test_int_reads_whole_numbers(value: object, expected: int) -> None:
    assert t.int_()(value) == expected


@pytest.mark.parametrize("value", ["2.5", 2.5, "two", True, "2.0", "9" * 40])
def test_int_refuses_fractions_and_text(value: object) -> None:
    with pytest.raises(TransformError, match="int"):
        t.int_()(value)


def test_blank_numbers_are_missing_not_errors() -> None:
    assert t.decimal()("  ") is None and t.int_()("") is None


def test_count_lists_and_null() -> None:
    assert t.count()([{"n": 1}, {"n": 2}]) == 2
    assert t.count()([]) == 0
    assert t.count()(None) == 0
    with pytest.raises(TransformError, match="count needs a list"):
        t.count()("ab")


def test_string_transforms() -> None:
    assert t.lower()("ÀNA") == "àna"
    assert t.upper()("straße") == "STRASSE"
    assert t.trim()("  Zoë \n") == "Zoë"
    assert t.replace("-", "")("DBL-1") == "DBL1"
    for transform in (t.lower(), t.upper(), t.trim(), t.replace("a", "b")):
        with pytest.raises(TransformError, match="needs a string"):
            transform(12)


def test_split_picks_a_part_and_a_missing_part_is_null() -> None:
    assert t.split(" ", 0)("Ana Silva") == "Ana"
    assert t.split(" ", -1)("Ana Maria Silva") == "Silva"
    assert t.split(" ", 1)("Ana") is None


def test_join_and_first() -> None:
    assert t.join(", ")(["a", None, "b", 3]) == "a, b, 3"
    with pytest.raises(TransformError, match="list of strings"):
        t.join(",")([{"x": 1}])
    assert t.first()(["x", "y"]) == "x"
    assert t.first()([]) is None
    with pytest.raises(TransformError, match="first needs a list"):
        t.first()("x")


def test_map_status_exact_then_case_insensitive_and_unknown_names_code() -> None:
    status = t.map_status({"confirmed": "CONFIRMED", "Canceled": "CANCELLED", "3": "NO_SHOW"})
    assert status("confirmed") == "CONFIRMED"
    assert status("CANCELED") == "CANCELLED"
    assert status(3) == "NO_SHOW"
    with pytest.raises(TransformError, match=r"unknown status code 'waitlist'.*known: 3, Canceled, confirmed"):
        status("waitlist")
    with pytest.raises(TransformError):
        status({"code": "confirmed"})


def test_huge_values_give_short_messages() -> None:
    with pytest.raises(TransformError) as caught:
        t.parse_date()("x" * 1_000_000)
    assert len(str(caught.value)) < 200


def test_arg_problems_and_build_cover_the_closed_set() -> None:
    assert t.arg_problems({"assume_tz": "Europe/Lisbon", "formats": ["%Y"]}) == []
    assert [a for a, _ in t.arg_problems({"assume_tz": "X/Y", "formats": ["%Y", "YYYY"]})] == ["assume_tz", "formats/1"]
    args = {"split": {"sep": " "}, "join": {"sep": " "}, "replace": {"old": "a", "new": "b"}}
    for name in t.NAMES:
        assert callable(t.build(name, args.get(name, {}), {"a": "CONFIRMED"}))


@given(st.datetimes(timezones=st.just(dt.timezone.utc)))
def test_the_canonical_utc_text_is_strftimes_for_every_year(value):
    from pmsync.config.compile import iso_utc
    assert iso_utc(value) == f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%SZ")
