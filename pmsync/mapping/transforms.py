"""The closed set of transforms a config may name (docs/config-language.md, "Transforms").

Each transform is built once per config version from its arguments and returns a plain
function value -> value. Null passes through every transform except ``count`` (null -> 0).
A transform that cannot read its input raises ``TransformError``; the compiler turns that
into a ``PMSMappingError`` naming the field. Never add a transform that evaluates config text
as code, and never let one shift a local date through UTC.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Callable, Mapping

Transform = Callable[[Any], Any]

UTC = dt.timezone.utc

ROUNDINGS = ("ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_HALF_DOWN", "ROUND_UP", "ROUND_DOWN",
             "ROUND_CEILING", "ROUND_FLOOR", "ROUND_05UP")

# name -> (allowed args, required args); the meta-schema says the same in JSON.
ARGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "parse_date": (frozenset({"formats"}), frozenset()),
    "parse_datetime": (frozenset({"formats", "assume_tz"}), frozenset()),
    "map_status": (frozenset(), frozenset()),
    "decimal": (frozenset({"places", "rounding"}), frozenset()),
    "int": (frozenset(), frozenset()),
    "count": (frozenset(), frozenset()),
    "lower": (frozenset(), frozenset()),
    "upper": (frozenset(), frozenset()),
    "trim": (frozenset(), frozenset()),
    "split": (frozenset({"sep", "index"}), frozenset({"sep"})),
    "join": (frozenset({"sep"}), frozenset({"sep"})),
    "first": (frozenset(), frozenset()),
    "replace": (frozenset({"old", "new"}), frozenset({"old", "new"})),
}
NAMES = tuple(ARGS)

_INT_TEXT = re.compile(r"[+-]?\d{1,30}")


class TransformError(ValueError):
    """A transform could not handle its input; the message names the transform and value."""


def show(value: Any, limit: int = 60) -> str:
    """A value for an error message, cut short so a huge input never makes a huge message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def _need_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TransformError(f"{name} needs a string, got {type(value).__name__} {show(value)}")
    return value


# --- dates -------------------------------------------------------------------------------

def read_date(text: str, formats: tuple[str, ...] = ()) -> dt.date | None:
    """The local date written in ``text``: ISO date or datetime (its own offset is kept, the
    date is never converted to UTC), then each strptime format. None if nothing reads it."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def in_zone(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """``naive.replace(tzinfo=tz)``, built with the constructor: on CPython 3.11 ``replace``
    with a keyword costs about 1 µs, the constructor a third of that, and this runs for every
    datetime of every record."""
    if naive.fold:  # never from a parser; kept exact all the same
        return naive.replace(tzinfo=tz)
    return dt.datetime(naive.year, naive.month, naive.day, naive.hour, naive.minute, naive.second,
                       naive.microsecond, tz)


def read_datetime(text: str, formats: tuple[str, ...] = (), tz: dt.tzinfo = UTC) -> dt.datetime | None:
    """The instant written in ``text`` in UTC; a value without offset is read in ``tz``.
    For a local time that a DST change skips or repeats, Python's fold=0 rule applies (the
    offset in force before the change)."""
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        for fmt in formats:
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = in_zone(parsed, tz)
    if parsed.tzinfo is UTC:
        return parsed
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        raise TransformError(f"{show(text)} is out of range in UTC") from None


def _formats_note(formats: tuple[str, ...]) -> str:
    return f"ISO 8601, {', '.join(formats)}" if formats else "ISO 8601"


def parse_date(formats: list[str] | None = None) -> Transform:
    fmts = tuple(formats or ())

    fromisoformat = dt.date.fromisoformat

    def run(value: Any) -> Any:
        if type(value) is str and len(value) == 10:
            try:
                return fromisoformat(value)  # the common YYYY-MM-DD, without the general path
            except ValueError:
                pass
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = _need_str("parse_date", value).strip()
        if not text:
            return None
        result = read_date(text, fmts)
        if result is None:
            raise TransformError(f"parse_date could not read {show(value)} "
                                 f"(formats tried: {_formats_note(fmts)})")
        return result
    return run


def parse_datetime(formats: list[str] | None = None, assume_tz: str = "UTC") -> Transform:
    fmts = tuple(formats or ())
    tz = zone(assume_tz)

    def run(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else in_zone(value, tz)).astimezone(UTC)
        text = _need_str("parse_datetime", value).strip()
        if not text:
            return None
        result = read_datetime(text, fmts, tz)
        if result is None:
            raise TransformError(f"parse_datetime could not read {show(value)} "
                                 f"(formats tried: {_formats_note(fmts)})")
        return result
    return run


def zone(name: str) -> dt.tzinfo:
    """An IANA zone (or UTC) by name; raises ValueError for an unknown one."""
    if name in ("UTC", "Z"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Lisbon')") from None


# --- status ------------------------------------------------------------------------------

def map_status(status_mappings: Mapping[str, str]) -> Transform:
    exact = dict(status_mappings)
    folded = {key.casefold(): value for key, value in exact.items()}
    known = ", ".join(sorted(exact))

    def run(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TransformError(f"map_status needs a status code string, got {show(value)}")
        code = str(value)
        found = exact.get(code)
        if found is None:
            found = folded.get(code.strip().casefold())
        if found is None:
            raise TransformError(f"unknown status code {show(code)}; add it to status_mappings "
                                 f"(known: {known if len(known) <= 200 else known[:200] + '…'})")
        return found
    return run


# --- numbers -----------------------------------------------------------------------------

def to_decimal(value: Any) -> Decimal:
    """A finite Decimal from a decimal string, an int or a float; TransformError otherwise."""
    if type(value) is str:
        # Decimal() also reads "1_000", "NaN" and "Infinity": underscores are refused here,
        # non-finite values below.
        try:
            result = Decimal(value)
        except InvalidOperation:
            result = None
        if result is None or "_" in value:
            raise TransformError(f"decimal could not read {show(value)}")
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TransformError(f"decimal needs a number, got {show(value)}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the shortest repr, so 0.1 stays 0.1
    else:
        raise TransformError(f"decimal needs a number or decimal string, got {show(value)}")
    if not result.is_finite():
        raise TransformError(f"decimal needs a finite number, got {show(value)}")
    return result


# One context per rounding, with room for any amount a PMS sends: Context.quantize with a ready
# context is about 3x faster than Decimal.quantize(rounding=…, context=…).
_CONTEXTS = {rounding: Context(prec=60, rounding=rounding) for rounding in ROUNDINGS}
_EXPONENTS = {places: Decimal(1).scaleb(-places) for places in range(11)}


def quantizer(places: int, rounding: str) -> Callable[[Decimal], Decimal]:
    """Rounding to ``places`` with its context and exponent looked up once, since it runs per
    record; the result is never "-0.00"."""
    context, exponent = _CONTEXTS[rounding], _EXPONENTS[places]

    def run(value: Decimal) -> Decimal:
        try:
            result = context.quantize(value, exponent)
        except InvalidOperation:
            raise TransformError(f"decimal {show(str(value))} is too large") from None
        return result.copy_abs() if result.is_zero() else result  # never "-0.00"
    return run


def decimal(places: int = 2, rounding: str = "ROUND_HALF_UP") -> Transform:
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}")
    to_places = quantizer(places, rounding)

    def run(value: Any) -> Any:
        if type(value) is str and not value.strip():
            return None  # blank is missing, as for a field without transform
        return to_places(to_decimal(value))
    return run


def to_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is str and value.isdecimal() and value.isascii() and len(value) <= 30:
        return int(value)  # the common "2": ASCII digits only, no sign, space or "_"
    if isinstance(value, bool):
        raise TransformError(f"int needs a whole number, got {show(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise TransformError(f"int needs a whole number, got {show(value)}")


def int_() -> Transform:
    def run(value: Any) -> Any:
        if type(value) is str and not value.strip():
            return None  # blank is missing, as for a field without transform
        return to_int(value)
    return run


def count() -> Transform:
    def run(value: Any) -> Any:
        if value is None:
            return 0
        if isinstance(value, list):
            return len(value)
        raise TransformError(f"count needs a list, got {type(value).__name__} {show(value)}")
    return run


# --- strings and lists -------------------------------------------------------------------

def lower() -> Transform:
    return lambda value: _need_str("lower", value).lower()


def upper() -> Transform:
    return lambda value: _need_str("upper", value).upper()


def trim() -> Transform:
    return lambda value: _need_str("trim", value).strip()


def split(sep: str, index: int = 0) -> Transform:
    def run(value: Any) -> Any:
        parts = _need_str("split", value).split(sep)
        # A missing part is a missing value (e.g. no last name), not an error.
        return parts[index] if -len(parts) <= index < len(parts) else None
    return run


def join(sep: str) -> Transform:
    def run(value: Any) -> Any:
        if not isinstance(value, list):
            raise TransformError(f"join needs a list, got {type(value).__name__} {show(value)}")
        parts = []
        for item in value:
            if item is None:
                continue
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise TransformError(f"join needs a list of strings, got item {show(item)}")
            parts.append(str(item))
        return sep.join(parts)
    return run


def first() -> Transform:
    def run(value: Any) -> Any:
        if not isinstance(value, list):
            raise TransformError(f"first needs a list, got {type(value).__name__} {show(value)}")
        return value[0] if value else None
    return run


def replace(old: str, new: str) -> Transform:
    return lambda value: _need_str("replace", value).replace(old, new)


_FACTORIES: dict[str, Callable[..., Transform]] = {
    "parse_date": parse_date, "parse_datetime": parse_datetime, "decimal": decimal,
    "int": int_, "count": count, "lower": lower, "upper": upper, "trim": trim,
    "split": split, "join": join, "first": first, "replace": replace,
}
assert set(_FACTORIES) | {"map_status"} == set(NAMES)


def arg_problems(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the meta-schema cannot see in a transform's arguments, as (argument, message)."""
    problems = []
    if isinstance(args.get("assume_tz"), str):
        try:
            zone(args["assume_tz"])
        except ValueError as exc:
            problems.append(("assume_tz", str(exc)))
    formats = args.get("formats")
    for i, fmt in enumerate(formats if isinstance(formats, list) else []):
        if isinstance(fmt, str) and "%" not in fmt:
            problems.append((f"formats/{i}", f"format {fmt!r} has no strptime directive (e.g. %d/%m/%Y)"))
    return problems


def build(name: str, args: Mapping[str, Any], status_mappings: Mapping[str, str]) -> Transform:
    """The transform function for a name and its (already checked) arguments."""
    if name == "map_status":
        return map_status(status_mappings)
    return _FACTORIES[name](**args)
