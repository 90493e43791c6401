"""``generic`` v1: the seed system's own format (docs/seed-format.md).

``GET /v1/reservations?hotelId=…&modifiedSince=YYYY-MM-DDTHH:MM:SSZ`` with header
``X-API-Key``; the body is one JSON array of every reservation changed since then (no
pagination). Dates are local datetimes without offset, sometimes with a trailing ``Z``,
sometimes a bare date or ``DD/MM/YYYY`` (the prototype accepted those), always the hotel's
own calendar date. Amounts are decimal strings.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any, Mapping

from pmsync.simulator.booking import SimBooking
from pmsync.simulator.render.base import (Family, HotelView, Query, SimHttpError, parse_time,
                                          put_optional, z)

STATUS_CODES = {"PENDING": "TENTATIVE", "CONFIRMED": "CONFIRMED", "CHECKED_IN": "CHECKED_IN",
                "CHECKED_OUT": "CHECKED_OUT", "CANCELLED": "CANCELLED", "NO_SHOW": "NO_SHOW"}


def _date_text(day: date, at: time, style: int) -> str:
    # One of the four spellings the seed PMS was seen to use, fixed per booking.
    if style == 0:
        return f"{day.isoformat()}T{at.strftime('%H:%M:%S')}"
    if style == 1:
        return f"{day.isoformat()}T{at.strftime('%H:%M:%S')}Z"
    if style == 2:
        return day.isoformat()
    return day.strftime("%d/%m/%Y")


class GenericV1(Family):
    pms_type = "generic"
    pms_version = "v1"
    method = "GET"
    path = "/v1/reservations"
    pagination = "none"
    timezones = ("Europe/Paris", "Europe/Lisbon", "America/New_York", "Asia/Tokyo")
    credential_names = ("api_key",)

    def new_property_id(self, rng: Any) -> str:
        return f"GEN-{rng.randrange(1000, 9999)}"

    def parse_request(self, query: Mapping[str, str], headers: Mapping[str, str],
                      body: Any) -> Query:
        key = headers.get("X-API-Key")
        if not key:
            raise SimHttpError(401, "missing X-API-Key header")
        if not query.get("hotelId"):
            raise SimHttpError(400, "hotelId is required")
        return Query(property_id=query["hotelId"], credentials={"api_key": key},
                     since=parse_time(query.get("modifiedSince"), "%Y-%m-%dT%H:%M:%SZ",
                                      "modifiedSince"))

    def record(self, b: SimBooking, hotel: HotelView) -> dict[str, Any]:
        style = int(b.uid[-1], 16) % 4
        check_in = b.raw_check_in or _date_text(b.check_in, b.arrival, style)
        total: dict[str, Any] = {"amountAfterTax": f"{b.total_amount:.2f}",
                                 "currencyCode": b.currency}
        stay: dict[str, Any] = {
            "timeSpan": {"start": check_in, "end": _date_text(b.check_out, b.departure, style)},
            "roomType": {"roomTypeCode": b.room_type},
            "guestCount": {"adults": b.adults, "children": b.children},
            "total": total,
        }
        put_optional(stay, "roomNumber", b.room_number, b.blank_style)
        profile: dict[str, Any] = {"firstName": b.first_name, "lastName": b.last_name}
        put_optional(profile, "email", b.email, b.blank_style)
        put_optional(profile, "phone", b.phone, b.blank_style)
        return {"reservation": {"confirmationNumber": b.external_id,
                                "roomStay": stay,
                                "reservationStatus": {"code": b.raw_status or
                                                      STATUS_CODES[b.status]},
                                "lastModified": z(b.updated_at)},
                "guest": {"profile": profile}}

    def break_schema(self, raw: dict[str, Any], kind: str) -> tuple[str, str]:
        if kind == "missing_id":
            del raw["reservation"]["confirmationNumber"]
            return "$.reservation.confirmationNumber", "confirmationNumber"
        raw["reservation"]["roomStay"]["guestCount"]["adults"] = "two"
        return "$.reservation.roomStay.guestCount.adults", "integer"

    def envelope(self, records: list[dict[str, Any]], bookings: list[SimBooking],
                 query: Query, total: int, next_cursor: str | None, hotel: HotelView) -> Any:
        return records


FAMILY = GenericV1()
