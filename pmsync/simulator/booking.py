"""One simulated reservation as the simulator's ground truth, and its canonical form.

A ``SimBooking`` is an immutable snapshot: every change in the world makes a new snapshot with
a later ``updated_at`` and keeps the old one as history (out-of-order faults serve it again).
``canonical()`` is exactly what a correct mapping engine must produce from any family's
rendering of the snapshot (docs/config-language.md, sanitization included).

A snapshot may carry a ``defect``: then it is an *invalid record* that every family renders
broken in the same way (see ``defects.py``) and that a correct pipeline must reject.
This module must never depend on a PMS family's raw format.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pmsync.booking import empty_booking

# How an absent optional string (email, phone, room) is written by a PMS: left out, JSON null
# or an empty string. All three must map to null.
BLANK_STYLES = ("absent", "null", "empty")


@dataclass(frozen=True)
class SimBooking:
    external_id: str
    uid: str                    # the PMS's internal id (Mews ``Id``, cursor key, …)
    customer_uid: str           # the guest profile's id (Mews ``CustomerId``)
    status: str                 # canonical status
    check_in: date              # hotel-local dates
    check_out: date
    arrival: time               # hotel-local times, for families that send datetimes
    departure: time
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    room_number: str | None
    room_type: str | None
    adults: int
    children: int
    total_amount: Decimal
    currency: str
    created_at: datetime        # aware UTC, whole seconds
    updated_at: datetime        # aware UTC, whole seconds; strictly increases per version
    blank_style: str = "null"
    defect: str | None = None   # a name in defects.DEFECTS: this snapshot is an invalid record
    raw_status: str | None = None    # a status code the PMS sends instead of the canonical one's
    raw_check_in: str | None = None  # a check-in text the PMS sends instead of the real date

    def evolve(self, **changes: Any) -> "SimBooking":
        return dataclasses.replace(self, **changes)

    def canonical(self) -> dict[str, Any]:
        """The canonical booking a correct pipeline ends with (meaningless for a defect)."""
        out = empty_booking()
        out.update({
            "external_id": sanitize(self.external_id),
            "status": self.status,
            "check_in": self.check_in.isoformat(),
            "check_out": self.check_out.isoformat(),
            "room_number": sanitize(self.room_number),
            "room_type": sanitize(self.room_type),
            "adults": self.adults,
            "children": self.children,
            "total_amount": f"{self.total_amount:.2f}",
            "currency": self.currency,
            "source_updated_at": iso_z(self.updated_at),
        })
        out["guest"] = {"first_name": sanitize(self.first_name),
                        "last_name": sanitize(self.last_name),
                        "email": sanitize(self.email), "phone": sanitize(self.phone)}
        return out


def sanitize(value: str | None) -> str | None:
    """The engine's sanitization (trim, escape ``& < >``, empty → null), so truth matches it."""
    if value is None:
        return None
    value = value.strip().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value or None


def iso_z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
