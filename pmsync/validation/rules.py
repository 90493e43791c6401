"""``validation_rules`` compiled once into checks on a mapped booking's **typed** values.

Values arrive as the mapper produced them (date, datetime, Decimal, int, str or None), so a
rule never re-parses a value and can never silently skip because a value "did not parse" (the
seed system's bug). Regexes from a config are data, compiled here once with ``re``. Each
failure is a ``PMSBusinessRuleError`` with ``field`` and ``rule`` set.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Mapping

from pmsync.booking import FIELD_TYPES
from pmsync.errors import PMSBusinessRuleError
from pmsync.mapping.transforms import TransformError, read_datetime, show, to_decimal

Check = Callable[[Mapping[str, Any]], None]

# Which rule types make sense on which canonical field types; anything else could never fire.
RULE_TYPES_FOR: dict[str, frozenset[str]] = {
    "date": frozenset({"date"}), "datetime": frozenset({"datetime"}),
    "decimal": frozenset({"decimal"}), "int": frozenset({"int"}),
    "string": frozenset({"string", "email", "enum"}), "status": frozenset({"string", "enum"}),
}

ALL_RULE_TYPES = frozenset().union(*RULE_TYPES_FOR.values())

# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is not our job.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")

# business rule -> the fields it reads
BUSINESS_FIELDS = {
    "check_out_after_check_in": ("check_in", "check_out"),
    "max_booking_days": ("check_in", "check_out"),
    "non_negative_amount": ("total_amount",),
    "min_adults": ("adults",),
}


def _fail(message: str, field: str, rule: str) -> PMSBusinessRuleError:
    return PMSBusinessRuleError(f"{message} (field {field}, rule {rule})", field=field, rule=rule)


def _bound(rule_type: str, raw: Any) -> Any:
    """A rule's min/max read as the value type it is compared with; ValueError if unusable."""
    if rule_type == "date":
        try:
            return dt.date.fromisoformat(raw)
        except (TypeError, ValueError):
            raise ValueError(f"a date bound must be a 'YYYY-MM-DD' string, not {raw!r}") from None
    if rule_type == "datetime":
        parsed = read_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise ValueError("a datetime bound must be an ISO 8601 string")
        return parsed
    if rule_type == "decimal":
        try:
            return to_decimal(raw)
        except TransformError:
            raise ValueError("a decimal bound must be a number or decimal string") from None
    if isinstance(raw, bool) or not isinstance(raw, int):
        what = "an integer" if rule_type == "int" else "an integer length"
        raise ValueError(f"a {rule_type} bound must be {what}")
    return raw


def check_rules(rules: Any, mapped: set[str]) -> list[tuple[str, str]]:
    """Problems JSON Schema cannot see, as (pointer below /validation_rules, message)."""
    if not isinstance(rules, dict):
        return []
    problems: list[tuple[str, str]] = []
    required = rules.get("required_fields")
    for i, field in enumerate(required if isinstance(required, list) else []):
        if isinstance(field, str) and field in FIELD_TYPES and field not in mapped:
            problems.append((f"/required_fields/{i}",
                             f"{field} is required but field_mappings has no mapping for it, "
                             "so every record would be rejected"))
    fields = rules.get("fields")
    for field, rule in (fields.items() if isinstance(fields, dict) else []):
        if field not in FIELD_TYPES or not isinstance(rule, dict):
            continue
        base = f"/fields/{field}"
        if field not in mapped:
            problems.append((base, f"rule on {field}, but field_mappings has no mapping for it: "
                                   "the rule could never fire"))
        rule_type = rule.get("type")
        if rule_type not in ALL_RULE_TYPES:
            continue  # the meta-schema reports it
        canonical = FIELD_TYPES[field]
        if rule_type not in RULE_TYPES_FOR[canonical]:
            problems.append((f"{base}/type", f"{field} is a {canonical} field; a {rule_type!r} rule "
                             f"cannot apply (use one of {', '.join(sorted(RULE_TYPES_FOR[canonical]))})"))
            continue
        for key in ("min", "max"):
            if key in rule:
                try:
                    _bound(rule_type, rule[key])
                except ValueError as exc:
                    problems.append((f"{base}/{key}", str(exc)))
        if isinstance(rule.get("format"), str):
            try:
                re.compile(rule["format"])
            except re.error as exc:
                problems.append((f"{base}/format", f"invalid regular expression: {exc}"))
        if rule_type == "enum" and "allowed" not in rule:
            problems.append((base, "an enum rule needs 'allowed'"))
    business = rules.get("business_rules")
    for name, setting in (business.items() if isinstance(business, dict) else []):
        if name in BUSINESS_FIELDS and setting is not False:
            for field in BUSINESS_FIELDS[name]:
                if field not in mapped:
                    problems.append((f"/business_rules/{name}",
                                     f"{name} reads {field}, which field_mappings does not map: "
                                     "the rule could never fire"))
    return problems


def _required(fields: list[str]) -> Check:
    fields = list(fields)

    def run(values: Mapping[str, Any]) -> None:
        for field in fields:
            value = values.get(field)
            if value is None or (type(value) is str and not value.strip()):
                raise _fail(f"{field} is required but missing or empty", field, "required")
    return run


def _text(value: Any) -> str:
    """A typed value as its canonical text (what the booking will carry)."""
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.timezone.utc)
        return utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


ValueCheck = Callable[[Any], None]


def _value_checks(field: str, rule: Mapping[str, Any]) -> list[ValueCheck]:
    """One small check per key of a field rule, so the per-record path does no dispatching."""
    rule_type = rule["type"]
    by_length = rule_type in ("string", "email", "enum")
    checks: list[ValueCheck] = []

    def what(value: Any) -> str:
        return f"length {len(value)}" if by_length else _text(value)

    if rule_type == "email":
        def email(value: Any) -> None:
            if not (isinstance(value, str) and EMAIL.fullmatch(value)):
                raise _fail(f"{field} {show(value)} is not an email address", field, "email")
        checks.append(email)
    if "allowed" in rule:
        allowed = list(rule["allowed"])

        def in_allowed(value: Any) -> None:
            if value not in allowed:
                raise _fail(f"{field} {show(value)} is not one of {show(allowed, 200)}", field, "allowed")
        checks.append(in_allowed)
    lo = _bound(rule_type, rule["min"]) if "min" in rule else None
    hi = _bound(rule_type, rule["max"]) if "max" in rule else None
    if lo is not None or hi is not None:
        def in_range(value: Any) -> None:
            measure = len(value) if by_length else value
            if lo is not None and measure < lo:
                raise _fail(f"{field} {what(value)} is below the minimum {_text(lo)}", field, "min")
            if hi is not None and measure > hi:
                raise _fail(f"{field} {what(value)} is above the maximum {_text(hi)}", field, "max")
        checks.append(in_range)
    if "format" in rule:
        pattern = re.compile(rule["format"])
        as_text = (lambda value: value) if by_length else _text

        def matches(value: Any) -> None:
            if not pattern.fullmatch(as_text(value)):
                raise _fail(f"{field} {show(_text(value))} does not match {pattern.pattern!r}", field, "format")
        checks.append(matches)
    return checks


def _business(name: str, setting: Any) -> Check | None:
    if setting is False:
        return None
    if name == "check_out_after_check_in":
        def run(values: Mapping[str, Any]) -> None:
            cin, cout = values.get("check_in"), values.get("check_out")
            if cin is not None and cout is not None and not cout > cin:
                word = "the same day as" if cout == cin else "before"
                raise _fail(f"check_out {cout.isoformat()} is {word} check_in {cin.isoformat()}",
                            "check_out", name)
        return run
    if name == "max_booking_days":
        limit = int(setting)

        def run(values: Mapping[str, Any]) -> None:
            cin, cout = values.get("check_in"), values.get("check_out")
            if cin is not None and cout is not None and (cout - cin).days > limit:
                raise _fail(f"stay of {(cout - cin).days} nights ({cin.isoformat()} to {cout.isoformat()}) "
                            f"is longer than {limit}", "check_out", name)
        return run
    if name == "non_negative_amount":
        def run(values: Mapping[str, Any]) -> None:
            amount = values.get("total_amount")
            if amount is not None and amount < 0:
                raise _fail(f"total_amount {amount} is negative", "total_amount", name)
        return run
    if name == "min_adults":
        least = int(setting)

        def run(values: Mapping[str, Any]) -> None:
            adults = values.get("adults")
            if adults is not None and adults < least:
                raise _fail(f"adults {adults} is fewer than {least}", "adults", name)
        return run
    raise ValueError(f"unknown business rule {name!r}")


def compile_rules(rules: Mapping[str, Any]) -> Check:
    """One function that raises the first broken rule: required, then fields, then business."""
    required = _required(rules["required_fields"]) if rules.get("required_fields") else None
    field_checks: list[tuple[str, ValueCheck]] = []
    for field in FIELD_TYPES:  # canonical order, so the first error reported is stable
        if field in rules.get("fields", {}):
            field_checks += [(field, check) for check in _value_checks(field, rules["fields"][field])]
    business = [check for name, setting in rules.get("business_rules", {}).items()
                if (check := _business(name, setting)) is not None]

    def run(values: Mapping[str, Any]) -> None:
        if required is not None:
            required(values)
        get = values.get
        for field, check in field_checks:
            value = get(field)
            if value is not None:  # a rule on a null optional field is skipped
                check(value)
        for check in business:
            check(values)
    return run
