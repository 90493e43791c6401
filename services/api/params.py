"""Query-string parsing: every parameter is checked and typed before it reaches SQL.

Unknown, repeated, oversized or malformed parameters are a 400 that names the parameter and
says what is expected; nothing is ignored silently (a typo like ``stauts`` would otherwise
return unfiltered data). Values only ever reach SQL as bound parameters.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from werkzeug.datastructures import MultiDict

from services.api.errors import ApiError, invalid_parameter

MAX_TEXT = 256
# Postgres text cannot hold NUL, and no identifier here contains control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HOTEL_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Query:
    """The request's query parameters, restricted to ``allowed``."""

    def __init__(self, args: MultiDict, allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(args) - set(allowed))
        if unknown:
            raise ApiError(400, "unknown_parameter",
                           f"unknown query parameter(s): {', '.join(u[:40] for u in unknown[:5])}; "
                           f"allowed: {', '.join(allowed)}",
                           {"unknown": [u[:40] for u in unknown[:5]], "allowed": list(allowed)})
        for name in allowed:
            if len(args.getlist(name)) > 1:
                raise invalid_parameter(name, f"{name} is given more than once")
        self._args = args

    def text(self, name: str, max_length: int = MAX_TEXT) -> str | None:
        value = self._args.get(name)
        if value is None:
            return None
        if value == "":
            raise invalid_parameter(name, f"{name} is empty; leave it out to not filter")
        if len(value) > max_length:
            raise invalid_parameter(name, f"{name} is longer than {max_length} characters")
        if _CONTROL.search(value):
            raise invalid_parameter(name, f"{name} contains control characters")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name, 64)
        if value is not None and value not in allowed:
            raise invalid_parameter(name, f"{name} must be one of {', '.join(allowed)}")
        return value

    def pattern(self, name: str, regex: re.Pattern[str], what: str) -> str | None:
        value = self.text(name, 64)
        if value is not None and not regex.match(value):
            raise invalid_parameter(name, f"{name} must be {what}")
        return value

    def date(self, name: str) -> date | None:
        value = self.text(name, 10)
        if value is None:
            return None
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise invalid_parameter(name, f"{name} must be a date YYYY-MM-DD, got {value!r}") from None

    def datetime(self, name: str) -> datetime | None:
        value = self.text(name, 40)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or not 1 <= parsed.year <= 9998:
            raise invalid_parameter(
                name, f"{name} must be an ISO 8601 date-time with offset, e.g. 2026-05-01T00:00:00Z")
        return parsed

    def limit(self, default: int = 100, maximum: int = 500) -> int:
        value = self.text("limit", 6)
        if value is None:
            return default
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
            raise invalid_parameter("limit", f"limit must be a whole number from 1 to {maximum}")
        return int(value)
