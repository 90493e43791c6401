"""``generic`` v2: the seed PMS's second API, fields renamed and nested, offset pagination.

``GET /v2/reservations?property=…&updatedSince=<ISO 8601>&offset=N&limit=M`` with header
``X-API-Key``; body ``{"items": [...], "offset": N, "limit": M, "total": T}``. Arrival and
departure are local datetimes **with the hotel's UTC offset** (late arrivals near midnight
included), status codes are lower case, room type codes lower case, ``audit.updatedAt`` is
the local time with offset. An optional ``updatedUntil=<ISO 8601>`` bounds the window from
above: the shipped config does not send it; tests of offset paging with an upper bound do.
"""

from __future__ import annotations

from typing import Any, Mapping
from zoneinfo import ZoneInfo

from pmsync.simulator.booking import SimBooking
from pmsync.simulator.render.base import (Family, HotelView, Query, SimHttpError, local_dt,
                                          parse_int, parse_time, put_optional)

STATUS_CODES = {"PENDING": "tentative", "CONFIRMED": "confirmed", "CHECKED_IN": "in_house",
                "CHECKED_OUT": "departed", "CANCELLED": "cancelled", "NO_SHOW": "no_show"}


class GenericV2(Family):
    pms_type = "generic"
    pms_version = "v2"
    method = "GET"
    path = "/v2/reservations"
    pagination = "offset"
    default_page_size = 50
    max_page_size = 200
    timezones = ("America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Europe/Berlin",
                 "Australia/Sydney")
    credential_names = ("api_key",)

    def new_property_id(self, rng: Any) -> str:
        return f"gen2-{rng.randrange(100, 999)}"

    def parse_request(self, query: Mapping[str, str], headers: Mapping[str, str],
                      body: Any) -> Query:
        key = headers.get("X-API-Key")
        if not key:
            raise SimHttpError(401, "missing X-API-Key header")
        if not query.get("property"):
            raise SimHttpError(400, "property is required")
        return Query(property_id=query["property"], credentials={"api_key": key},
                     since=parse_time(query.get("updatedSince"), "iso8601", "updatedSince"),
                     until=parse_time(query.get("updatedUntil"), "iso8601", "updatedUntil"),
                     offset=parse_int(query.get("offset"), "offset", 0) or 0,
                     limit=parse_int(query.get("limit"), "limit", 1, self.max_page_size)
                     or self.default_page_size)

    def record(self, b: SimBooking, hotel: HotelView) -> dict[str, Any]:
        tz = hotel.timezone
        arrival = b.raw_check_in or local_dt(b.check_in, b.arrival, tz).isoformat()
        room: dict[str, Any] = {"type": (b.room_type or "").lower() or None}
        put_optional(room, "number", b.room_number, b.blank_style)
        contact: dict[str, Any] = {}
        put_optional(contact, "email", b.email, b.blank_style)
        put_optional(contact, "phone", b.phone, b.blank_style)
        return {
            "id": b.external_id,
            "state": b.raw_status or STATUS_CODES[b.status],
            "stay": {"arrival": arrival,
                     "departure": local_dt(b.check_out, b.departure, tz).isoformat(),
                     "room": room},
            "occupancy": {"adults": b.adults, "children": b.children},
            "price": {"total": f"{b.total_amount:.2f}", "currency": b.currency},
            "guest": {"name": {"first": b.first_name, "last": b.last_name},
                      "contact": contact},
            "audit": {"createdAt": b.created_at.astimezone(ZoneInfo(tz)).isoformat(),
                      "updatedAt": b.updated_at.astimezone(ZoneInfo(tz)).isoformat()},
        }

    def break_schema(self, raw: dict[str, Any], kind: str) -> tuple[str, str]:
        if kind == "missing_id":
            del raw["id"]
            return "$.id", "id"
        raw["occupancy"]["adults"] = [2]
        return "$.occupancy.adults", "integer"

    def envelope(self, records: list[dict[str, Any]], bookings: list[SimBooking],
                 query: Query, total: int, next_cursor: str | None, hotel: HotelView) -> Any:
        return {"items": records, "offset": query.offset, "limit": query.limit, "total": total}


FAMILY = GenericV2()
