"""validation_rules on typed mapped values: each rule is proven to fire and to pass."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pmsync.errors import PMSBusinessRuleError
from pmsync.validation.rules import compile_rules
from pmsync.validation.sanitize import clean

D = dt.date
GOOD: dict[str, Any] = {
    "external_id": "R1", "status": "CONFIRMED", "check_in": D(2026, 5, 1), "check_out": D(2026, 5, 4),
    "guest.email": "ana@example.com", "adults": 2, "total_amount": Decimal("450.00"), "currency": "EUR",
    "room_type": "DBL", "source_updated_at": dt.datetime(2026, 4, 20, 8, 15, tzinfo=dt.timezone.utc),
}


def broken(rules: dict, **values: Any) -> PMSBusinessRuleError:
    with pytest.raises(PMSBusinessRuleError) as caught:
        compile_rules(rules)({**GOOD, **values})
    return caught.value


def passes(rules: dict, **values: Any) -> None:
    compile_rules(rules)({**GOOD, **values})


@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_treats_null_empty_and_blank_as_missing(value: Any) -> None:
    err = broken({"required_fields": ["external_id"]}, external_id=value)
    assert (err.field, err.rule) == ("external_id", "required")
    assert err.message == "external_id is required but missing or empty (field external_id, rule required)"


def test_required_passes_for_zero_and_values() -> None:
    passes({"required_fields": ["adults", "external_id"]}, adults=0)


def test_check_out_after_check_in_fires_on_earlier_and_same_day() -> None:
    rules = {"business_rules": {"check_out_after_check_in": True}}
    err = broken(rules, check_in=D(2026, 5, 4), check_out=D(2026, 5, 1))
    assert err.message == ("check_out 2026-05-01 is before check_in 2026-05-04 "
                           "(field check_out, rule check_out_after_check_in)")
    assert (err.field, err.rule) == ("check_out", "check_out_after_check_in")
    assert "same day" in broken(rules, check_out=D(2026, 5, 1)).message
    passes(rules)
    passes({"business_rules": {"check_out_after_check_in": False}}, check_out=D(2026, 5, 1))


def test_max_booking_days_counts_nights_across_leap_day() -> None:
    rules = {"business_rules": {"max_booking_days": 29}}
    passes(rules, check_in=D(2028, 2, 1), check_out=D(2028, 3, 1))    # 29 nights in a leap year
    err = broken(rules, check_in=D(2027, 1, 31), check_out=D(2027, 3, 2))
    assert err.rule == "max_booking_days" and "30 nights" in err.message


def test_non_negative_amount_and_zero() -> None:
    rules = {"business_rules": {"non_negative_amount": True}}
    passes(rules, total_amount=Decimal("0.00"))
    err = broken(rules, total_amount=Decimal("-0.01"))
    assert (err.field, err.rule) == ("total_amount", "non_negative_amount")


def test_min_adults() -> None:
    rules = {"business_rules": {"min_adults": 1}}
    assert broken(rules, adults=0).rule == "min_adults"
    passes(rules, adults=1)


@pytest.mark.parametrize("field, rule, value, fired", [
    ("guest.email", {"type": "email"}, "ana@example", "email"),
    ("guest.email", {"type": "email"}, "an a@example.com", "email"),
    ("adults", {"type": "int", "min": 1, "max": 20}, 21, "max"),
    ("adults", {"type": "int", "min": 1, "max": 20}, 0, "min"),
    ("total_amount", {"type": "decimal", "min": "0", "max": "1000000"}, Decimal("1000000.01"), "max"),
    ("total_amount", {"type": "decimal", "min": 0}, Decimal("-1"), "min"),
    ("currency", {"type": "string", "format": "^[A-Z]{3}$"}, "EURO", "format"),
    ("currency", {"type": "string", "format": "[A-Z]{3}"}, "eur", "format"),   # whole value must match
    ("currency", {"type": "string", "min": 3, "max": 3}, "EU", "min"),
    ("room_type", {"type": "enum", "allowed": ["SGL", "DBL"]}, "dbl", "allowed"),
    ("check_in", {"type": "date", "min": "2000-01-01"}, D(1999, 12, 31), "min"),
    ("check_in", {"type": "date", "format": r"\d{4}-\d{2}-\d{2}"}, D(2026, 1, 1), None),
    ("source_updated_at", {"type": "datetime", "max": "2030-01-01T00:00:00Z"},
     dt.datetime(2030, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc), "max"),
    ("source_updated_at", {"type": "datetime", "format": r".*T08:15:00Z"}, GOOD["source_updated_at"], None),
    ("adults", {"type": "int", "min": 1}, None, None),   # a rule on a null optional field is skipped
])
def test_field_rules_fire_on_typed_values(field: str, rule: dict, value: Any, fired: str | None) -> None:
    rules = {"fields": {field: rule}}
    if fired is None:
        passes(rules, **{field: value})
        return
    err = broken(rules, **{field: value})
    assert (err.field, err.rule) == (field, fired), err.message
    assert f"(field {field}, rule {fired})" in err.message


def test_every_rule_passes_a_good_booking() -> None:
    passes({
        "required_fields": ["external_id", "status", "check_in", "check_out", "source_updated_at"],
        "fields": {"guest.email": {"type": "email"}, "adults": {"type": "int", "min": 1, "max": 20},
                   "total_amount": {"type": "decimal", "min": "0", "max": "1000000"},
                   "currency": {"type": "string", "format": "^[A-Z]{3}$"},
                   "room_type": {"type": "enum", "allowed": ["SGL", "DBL", "TWN", "STE"]},
                   "check_in": {"type": "date", "min": "2000-01-01"}},
        "business_rules": {"check_out_after_check_in": True, "max_booking_days": 60,
                           "non_negative_amount": True, "min_adults": 1},
    })


def test_first_broken_rule_wins_in_a_stable_order() -> None:
    rules = {"required_fields": ["currency"], "fields": {"adults": {"type": "int", "max": 1}},
             "business_rules": {"min_adults": 5}}
    assert broken(rules, currency=None, adults=3).rule == "required"
    assert broken(rules, adults=3).rule == "max"
    assert broken(rules, adults=1).rule == "min_adults"


@pytest.mark.parametrize("raw, expected", [
    ("  Ana  ", "Ana"), ("", None), ("   ", None), ("A&B <x>", "A&amp;B &lt;x&gt;"),
    ("Zoë 王", "Zoë 王"), ("a\x00b", "ab"), ("&amp;", "&amp;amp;"), ("\x00", None),
])
def test_sanitize_trims_escapes_and_empties_to_null(raw: str, expected: str | None) -> None:
    assert clean(raw) == expected
