"""``cloudbeds`` 1.1 and 1.2: flat reservation records, modelled on Cloudbeds' getReservations.

Both: ``GET /api/v1.x/getReservations?propertyID=…&modifiedFrom=…&pageNumber=N&pageSize=M``,
body ``{"success": true, "data": [...], "count": n, "total": T}``, Cloudbeds' own status
codes, date-only ``startDate``/``endDate`` (the property's calendar).

- 1.1: ``Authorization: Bearer <access_token>``; ``modifiedFrom`` as ``YYYY-MM-DD HH:MM:SS``
  (UTC); ``dateModified`` the same way; ``adults``/``children`` as numeric strings; ``total`` a
  JSON number.
- 1.2: ``x-api-key: <api_key>``; ``modifiedFrom``/``modifiedTo`` as ``YYYY-MM-DDTHH:MM:SSZ``;
  ``dateModifiedUTC``; counts are integers; the amount moved to ``grandTotal`` (a string);
  guest contact fields renamed (``guestEmail`` → ``email``, ``guestPhone`` → ``phone``).
"""

from __future__ import annotations

from typing import Any, Mapping

from pmsync.simulator.booking import SimBooking
from pmsync.simulator.render.base import (Family, HotelView, Query, SimHttpError, bearer,
                                          parse_int, parse_time, put_optional, z)

STATUS_CODES = {"PENDING": "not_confirmed", "CONFIRMED": "confirmed", "CHECKED_IN": "checked_in",
                "CHECKED_OUT": "checked_out", "CANCELLED": "canceled", "NO_SHOW": "no_show"}


class Cloudbeds(Family):
    pms_type = "cloudbeds"
    method = "GET"
    pagination = "page"
    default_page_size = 100
    max_page_size = 100
    timezones = ("America/Sao_Paulo", "America/Mexico_City", "Europe/Madrid", "America/Chicago")

    def __init__(self, version: str) -> None:
        self.pms_version = version
        self.path = f"/api/v{version}/getReservations"
        self.credential_names = ("access_token",) if version == "1.1" else ("api_key",)
        self.delta_format = "%Y-%m-%d %H:%M:%S" if version == "1.1" else "%Y-%m-%dT%H:%M:%SZ"

    def new_property_id(self, rng: Any) -> str:
        return str(rng.randrange(100_000, 999_999))

    def new_external_id(self, rng: Any) -> str:
        return str(rng.randrange(10**11, 10**12))

    def parse_request(self, query: Mapping[str, str], headers: Mapping[str, str],
                      body: Any) -> Query:
        if self.pms_version == "1.1":
            token = bearer(headers)
            if not token:
                raise SimHttpError(401, "missing Authorization: Bearer token")
            credentials = {"access_token": token}
        else:
            key = headers.get("x-api-key")
            if not key:
                raise SimHttpError(401, "missing x-api-key header")
            credentials = {"api_key": key}
        if not query.get("propertyID"):
            raise SimHttpError(400, "propertyID is required")
        return Query(property_id=query["propertyID"], credentials=credentials,
                     since=parse_time(query.get("modifiedFrom"), self.delta_format,
                                      "modifiedFrom"),
                     until=parse_time(query.get("modifiedTo"), self.delta_format, "modifiedTo"),
                     page=parse_int(query.get("pageNumber"), "pageNumber", 1) or 1,
                     limit=parse_int(query.get("pageSize"), "pageSize", 1, self.max_page_size)
                     or self.default_page_size)

    def record(self, b: SimBooking, hotel: HotelView) -> dict[str, Any]:
        v11 = self.pms_version == "1.1"
        raw: dict[str, Any] = {
            "propertyID": hotel.property_id,
            "reservationID": b.external_id,
            "status": b.raw_status or STATUS_CODES[b.status],
            "guestID": b.customer_uid[:10],
            "guestFirstName": b.first_name,
            "guestLastName": b.last_name,
            "startDate": b.raw_check_in or b.check_in.isoformat(),
            "endDate": b.check_out.isoformat(),
            "adults": str(b.adults) if v11 else b.adults,
            "children": str(b.children) if v11 else b.children,
            "roomTypeNameShort": b.room_type,
            "currency": b.currency,
            "sourceName": "Website",
        }
        put_optional(raw, "roomName", b.room_number, b.blank_style)
        put_optional(raw, "guestEmail" if v11 else "email", b.email, b.blank_style)
        put_optional(raw, "guestPhone" if v11 else "phone", b.phone, b.blank_style)
        if v11:
            raw["dateCreated"] = b.created_at.strftime("%Y-%m-%d %H:%M:%S")
            raw["dateModified"] = b.updated_at.strftime("%Y-%m-%d %H:%M:%S")
            raw["total"] = float(b.total_amount)
        else:
            raw["dateCreatedUTC"] = z(b.created_at)
            raw["dateModifiedUTC"] = z(b.updated_at)
            raw["grandTotal"] = f"{b.total_amount:.2f}"
        return raw

    def break_schema(self, raw: dict[str, Any], kind: str) -> tuple[str, str]:
        if kind == "missing_id":
            del raw["reservationID"]
            return "$.reservationID", "reservationID"
        raw["adults"] = {"count": 2}
        return "$.adults", "string" if self.pms_version == "1.1" else "integer"

    def envelope(self, records: list[dict[str, Any]], bookings: list[SimBooking],
                 query: Query, total: int, next_cursor: str | None, hotel: HotelView) -> Any:
        return {"success": True, "data": records, "count": len(records), "total": total}


V1_1 = Cloudbeds("1.1")
V1_2 = Cloudbeds("1.2")
