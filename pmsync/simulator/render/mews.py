"""``mews`` 2017-04-12 and 2023-06-06: modelled on the Mews Connector API's reservations/getAll.

Both: ``POST`` with ``ClientToken``/``AccessToken``/``Client`` in the JSON body (the access
token identifies the property; there is no property id on the wire), cursor pagination in
``Limitation: {"Count": n, "Cursor": c}`` with the next cursor (the last reservation's ``Id``)
in the response's ``Cursor``; reservations and their customers in two sibling arrays of one
response body (``Reservations``, ``Customers``), UTC datetimes, amounts as currency objects.

- 2017-04-12: ``/api/connector/v1/reservations/getAll``; delta ``TimeFilter: "Updated"`` with
  ``StartUtc``/``EndUtc``; ``StartUtc``/``EndUtc``/``UpdatedUtc`` on the record,
  ``CustomerId``, ``AdultCount``/``ChildCount``, ``TotalAmount: {"Currency", "Value"}``.
- 2023-06-06: ``/api/connector/v1/reservations/getAll/2023-06-06``; delta ``UpdatedUtc:
  {"StartUtc", "EndUtc"}``; ``ScheduledStartUtc``/``ScheduledEndUtc``, ``AccountId``,
  ``PersonCounts`` per age classification, ``Amount: {"Currency", "GrossValue", "NetValue"}``.

Arrival/departure are the hotel's local check-in/out times sent in UTC; hotels of this family
are in Europe, where that never changes the calendar date (see the README's limits).
"""

from __future__ import annotations

import uuid
from datetime import time
from decimal import Decimal
from typing import Any, Mapping

from pmsync.simulator.booking import SimBooking
from pmsync.simulator.render.base import (Family, HotelView, Query, SimHttpError, local_dt,
                                          parse_int, parse_time, put_optional, z)

STATUS_CODES = {"PENDING": "Optional", "CONFIRMED": "Confirmed", "CHECKED_IN": "Started",
                "CHECKED_OUT": "Processed", "CANCELLED": "Canceled", "NO_SHOW": "NoShow"}
# Fixed per simulator so a config can filter on it (real Mews ids are per enterprise).
ADULT_CATEGORY = "5a1e7a1e-0000-4000-8000-00000000ad01"
CHILD_CATEGORY = "5a1e7a1e-0000-4000-8000-00000000c401"
CHECK_IN_AT, CHECK_OUT_AT = time(14, 0), time(11, 0)


def _amount(value: Decimal) -> float:
    return float(value)


class Mews(Family):
    pms_type = "mews"
    method = "POST"
    pagination = "cursor"
    default_page_size = 100
    max_page_size = 1000
    timezones = ("Europe/Prague", "Europe/London", "Europe/Amsterdam", "Europe/Vienna")
    credential_names = ("client_token", "access_token")

    def __init__(self, version: str) -> None:
        self.pms_version = version
        self.path = ("/api/connector/v1/reservations/getAll" if version == "2017-04-12"
                     else f"/api/connector/v1/reservations/getAll/{version}")

    def new_property_id(self, rng: Any) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def new_external_id(self, rng: Any) -> str:
        return str(rng.randrange(1000, 99_999))

    def parse_request(self, query: Mapping[str, str], headers: Mapping[str, str],
                      body: Any) -> Query:
        if not isinstance(body, dict):
            raise SimHttpError(400, "the request body must be a JSON object")
        client, access = body.get("ClientToken"), body.get("AccessToken")
        if not client or not access:
            raise SimHttpError(401, "ClientToken and AccessToken are required")
        limitation = body.get("Limitation")
        if not isinstance(limitation, dict) or "Count" not in limitation:
            raise SimHttpError(400, "Limitation.Count is required")
        if self.pms_version == "2017-04-12":
            if body.get("TimeFilter", "Updated") != "Updated":
                raise SimHttpError(400, "this simulator only serves TimeFilter=Updated")
            window = {"StartUtc": body.get("StartUtc"), "EndUtc": body.get("EndUtc")}
        else:
            window = body.get("UpdatedUtc") or {}
            if not isinstance(window, dict):
                raise SimHttpError(400, "UpdatedUtc must be an object")
        cursor = limitation.get("Cursor")
        return Query(property_id=None,
                     credentials={"client_token": str(client), "access_token": str(access)},
                     since=parse_time(window.get("StartUtc"), "iso8601", "StartUtc"),
                     until=parse_time(window.get("EndUtc"), "iso8601", "EndUtc"),
                     cursor=str(cursor) if cursor else None,
                     limit=parse_int(limitation.get("Count"), "Limitation.Count", 1,
                                     self.max_page_size))

    def record(self, b: SimBooking, hotel: HotelView) -> dict[str, Any]:
        tz = hotel.timezone
        # Mews sends the property's standard check-in/out times; in European time zones
        # their UTC instant falls on the same calendar date (late arrivals would not).
        start = b.raw_check_in or z(local_dt(b.check_in, CHECK_IN_AT, tz))
        end = z(local_dt(b.check_out, CHECK_OUT_AT, tz))
        if self.pms_version == "2017-04-12":
            raw: dict[str, Any] = {
                "Id": b.uid, "Number": b.external_id,
                "State": b.raw_status or STATUS_CODES[b.status],
                "StartUtc": start, "EndUtc": end,
                "CreatedUtc": z(b.created_at), "UpdatedUtc": z(b.updated_at),
                "CustomerId": b.customer_uid,
                "AdultCount": b.adults, "ChildCount": b.children,
                "RequestedCategoryCode": b.room_type,
                "TotalAmount": {"Currency": b.currency, "Value": _amount(b.total_amount)},
            }
            put_optional(raw, "AssignedSpaceNumber", b.room_number, b.blank_style)
            return raw
        counts = [{"AgeCategoryId": ADULT_CATEGORY, "AgeClassification": "Adult",
                   "Count": b.adults}]
        if b.children:
            counts.append({"AgeCategoryId": CHILD_CATEGORY, "AgeClassification": "Child",
                           "Count": b.children})
        raw = {
            "Id": b.uid, "Number": b.external_id,
            "State": b.raw_status or STATUS_CODES[b.status],
            "ScheduledStartUtc": start, "ScheduledEndUtc": end,
            "CreatedUtc": z(b.created_at), "UpdatedUtc": z(b.updated_at),
            "AccountId": b.customer_uid, "AccountType": "Customer",
            "PersonCounts": counts,
            "RequestedResourceCategoryCode": (b.room_type or "").lower() or None,
            "Amount": {"Currency": b.currency, "GrossValue": _amount(b.total_amount),
                       "NetValue": _amount((b.total_amount / Decimal("1.1"))
                                           .quantize(Decimal("0.01")))},
        }
        put_optional(raw, "AssignedResourceName", b.room_number, b.blank_style)
        return raw

    def customer(self, b: SimBooking) -> dict[str, Any]:
        c: dict[str, Any] = {"Id": b.customer_uid, "FirstName": b.first_name,
                             "LastName": b.last_name}
        # Mews writes a missing string as null, never "" (an email rule would reject "").
        put_optional(c, "Email", b.email, "null" if b.blank_style == "empty" else b.blank_style)
        put_optional(c, "Phone", b.phone, b.blank_style)
        return c

    def break_schema(self, raw: dict[str, Any], kind: str) -> tuple[str, str]:
        if kind == "missing_id":
            del raw["Number"]
            return "$.Number", "Number"
        if self.pms_version == "2017-04-12":
            raw["AdultCount"] = "2"
            return "$.AdultCount", "integer"
        raw["PersonCounts"] = {"Adult": 2}
        return "$.PersonCounts", "array"

    def envelope(self, records: list[dict[str, Any]], bookings: list[SimBooking],
                 query: Query, total: int, next_cursor: str | None, hotel: HotelView) -> Any:
        customers: dict[str, dict[str, Any]] = {}
        for b in bookings:
            customers.setdefault(b.customer_uid, self.customer(b))
        return {"Reservations": records, "Customers": list(customers.values()),
                "Cursor": next_cursor}


V2017 = Mews("2017-04-12")
V2023 = Mews("2023-06-06")
