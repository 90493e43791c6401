"""What every simulated PMS family/version provides, and helpers their renderers share.

A ``Family`` turns a canonical ``SimBooking`` into that PMS's raw record, wraps a page of them
in the PMS's response body, and reads a request the way that PMS does (auth, delta,
paging). The server does the rest (hotel look-up, filtering, paging, faults), identically for
every family. A family module must never touch the world or the server's state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from pmsync.simulator.booking import SimBooking


class SimHttpError(Exception):
    """A request the simulated PMS refuses, with the status and message it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Query:
    """One page request as the PMS understood it."""
    property_id: str | None          # None: the hotel is found by its credentials (Mews)
    credentials: dict[str, str]      # what the caller presented, compared with the hotel's
    since: datetime | None
    until: datetime | None = None
    page: int | None = None          # 1-based
    offset: int | None = None
    cursor: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class HotelView:
    """What a renderer may know about the hotel it renders for."""
    id: str
    property_id: str
    timezone: str
    currency: str


class Family:
    pms_type: str = ""
    pms_version: str = ""
    method: str = "GET"
    path: str = "/"
    pagination: str = "none"         # page | offset | cursor | none
    default_page_size: int = 100
    max_page_size: int = 100
    timezones: tuple[str, ...] = ("Europe/Lisbon",)
    # Which credential names a hotel of this family has (values are generated).
    credential_names: tuple[str, ...] = ("api_key",)

    @property
    def key(self) -> str:
        return f"{self.pms_type}/{self.pms_version}"

    # -- identities ------------------------------------------------------------------------
    def new_property_id(self, rng: random.Random) -> str:
        return f"P{rng.randrange(10_000, 99_999)}"

    def new_external_id(self, rng: random.Random) -> str:
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2)) + \
            str(rng.randrange(1000, 9999))

    # -- the wire --------------------------------------------------------------------------
    def parse_request(self, query: Mapping[str, str], headers: Mapping[str, str],
                      body: Any) -> Query:
        raise NotImplementedError

    def record(self, b: SimBooking, hotel: HotelView) -> dict[str, Any]:
        raise NotImplementedError

    def envelope(self, records: list[dict[str, Any]], bookings: list[SimBooking],
                 query: Query, total: int, next_cursor: str | None, hotel: HotelView) -> Any:
        raise NotImplementedError

    def break_schema(self, raw: dict[str, Any], kind: str) -> tuple[str, str]:
        """Break ``raw`` in place for a schema defect; returns (location, message word)."""
        raise NotImplementedError

    def render(self, b: SimBooking, hotel: HotelView) -> dict[str, Any]:
        """The raw record, with the snapshot's schema defect (if any) applied."""
        raw = self.record(b, hotel)
        if b.defect in ("missing_id", "wrong_type"):
            self.break_schema(raw, b.defect)
        return raw


# -- helpers shared by the renderers -----------------------------------------------------

def put_optional(target: dict[str, Any], key: str, value: Any, style: str) -> None:
    """Write an optional value; a missing one is left out, null or "" per the snapshot's style."""
    if value is not None:
        target[key] = value
    elif style == "null":
        target[key] = None
    elif style == "empty":
        target[key] = ""


def local_dt(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None, fmt: str, name: str) -> datetime | None:
    """A delta parameter as the PMS reads it; a value in another format is a 400."""
    if text is None or text == "":
        return None
    try:
        if fmt == "iso8601":
            value = datetime.fromisoformat(text.replace(" ", "+") if "T" in text and
                                           text.count(" ") == 1 else text)
        else:
            value = datetime.strptime(text, fmt)
    except ValueError:
        raise SimHttpError(400, f"{name}={text!r} is not a time in the format {fmt}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_int(text: Any, name: str, minimum: int, maximum: int | None = None) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise SimHttpError(400, f"{name}={text!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise SimHttpError(400, f"{name}={value} must be between {minimum} and {maximum}")
    return value


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization", "")
    return value[7:].strip() if value.startswith("Bearer ") else None
