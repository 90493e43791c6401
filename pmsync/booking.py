"""The canonical booking: the one shape every PMS record is mapped to (docs/design.md, exact).

Values on the wire and in golden samples are JSON-ready: dates and the amount are strings.
Lineage (hotel, config, source offsets) is added by the mapper service, not by mapping.
"""

from __future__ import annotations

from typing import Final

STATUSES: Final = ("PENDING", "CONFIRMED", "CHECKED_IN", "CHECKED_OUT", "CANCELLED", "NO_SHOW")

# Target fields a config may map, in canonical order; "guest.x" is the nested guest object.
FIELDS: Final = (
    "external_id", "status", "check_in", "check_out",
    "guest.first_name", "guest.last_name", "guest.email", "guest.phone",
    "room_number", "room_type", "adults", "children",
    "total_amount", "currency", "source_updated_at",
)

# The canonical type of each field; mapping coerces to it and rules check against it.
FIELD_TYPES: Final = {
    "external_id": "string", "status": "status", "check_in": "date", "check_out": "date",
    "guest.first_name": "string", "guest.last_name": "string", "guest.email": "string",
    "guest.phone": "string", "room_number": "string", "room_type": "string",
    "adults": "int", "children": "int", "total_amount": "decimal", "currency": "string",
    "source_updated_at": "datetime",
}

# Added on the bookings topic and in Postgres.
LINEAGE_FIELDS: Final = ("hotel_id", "pms_type", "pms_version", "config_hash",
                         "source_topic", "source_partition", "source_offset")


def empty_booking() -> dict:
    """A canonical booking with every field present and null, guest nested."""
    return {
        "external_id": None, "status": None, "check_in": None, "check_out": None,
        "guest": {"first_name": None, "last_name": None, "email": None, "phone": None},
        "room_number": None, "room_type": None, "adults": None, "children": None,
        "total_amount": None, "currency": None, "source_updated_at": None,
    }


def from_row(row: tuple) -> dict:
    """The canonical booking dict of a row: its values in ``FIELDS`` order, guest nested.
    Rows are what the mapper's hot path carries (a tuple is cheaper to build than this dict)."""
    (external_id, status, check_in, check_out, first_name, last_name, email, phone,
     room_number, room_type, adults, children, total_amount, currency, source_updated_at) = row
    return {
        "external_id": external_id, "status": status, "check_in": check_in, "check_out": check_out,
        "guest": {"first_name": first_name, "last_name": last_name, "email": email, "phone": phone},
        "room_number": room_number, "room_type": room_type, "adults": adults, "children": children,
        "total_amount": total_amount, "currency": currency, "source_updated_at": source_updated_at,
    }
