"""Realistic booking content: guests (unicode names, a few with ``&`` or ``<``), rooms, stays,
prices. Pure functions of a ``random.Random``, so a seed always gives the same world.

This module must never produce an invalid booking: invalid records are made on purpose, one
defect at a time, by ``defects.py``.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from pmsync.simulator.booking import BLANK_STYLES, SimBooking

FIRST_NAMES = (
    "Ana", "Ines", "João", "Léa", "Zoë", "Łukasz", "Søren", "Björk", "Chloé", "Mohammed",
    "Aiko", "Siobhán", "Øyvind", "Renée", "Jürgen", "Дмитрий", "Ελένη", "Nguyễn Văn", "李",
    "Mary Ann", "Olivia", "Liam", "Noah", "Emma", "Mateo", "Sofía", "Priya", "Kwame", "Fatma",
)
LAST_NAMES = (
    "Silva", "Moreau", "Müller", "García Márquez", "O'Brien", "van der Berg", "Nowak",
    "Østergaard", "王", "Иванова", "Παπαδόπουλος", "Smith", "Johnson", "Rossi", "Dubois",
    "Kowalski", "Yılmaz", "Tanaka", "Okafor", "Fernández", "Nguyen", "Jensen", "Novák",
)
# Rare, but real: company bookings and pasted-in markup. Sanitization must escape them.
ODD_LAST_NAMES = ("Barnes & Noble", "Smith & Sons", "<Unknown>", "Tom & <Jerry>")
ROOM_TYPES = {"SGL": (1, Decimal("79")), "DBL": (2, Decimal("119")), "TWN": (2, Decimal("115")),
              "TRP": (3, Decimal("149")), "FAM": (4, Decimal("179")), "STE": (2, Decimal("289"))}
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "BRL", "JPY", "AUD")


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum())


def new_uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def guest(rng: random.Random) -> tuple[str, str, str | None, str | None]:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(ODD_LAST_NAMES) if rng.random() < 0.04 else rng.choice(LAST_NAMES)
    email = None
    if rng.random() < 0.75:
        local = f"{ascii_slug(first)}.{ascii_slug(last)}".strip(".") or "guest"
        email = f"{local}{rng.randrange(1, 99)}@{rng.choice(('example.com', 'example.org'))}"
    phone = None
    if rng.random() < 0.5:
        phone = f"+{rng.choice((1, 33, 44, 49, 351, 420))} {rng.randrange(200, 999)} " \
                f"{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    return first, last, email, phone


def stay_price(room_type: str, nights: int, currency: str, rng: random.Random) -> Decimal:
    base = ROOM_TYPES[room_type][1]
    if currency == "JPY":
        base *= 150
    nightly = (base * Decimal(rng.randrange(85, 130)) / 100).quantize(Decimal("0.01"))
    return nightly * nights


def status_for(check_in: date, check_out: date, today: date, rng: random.Random) -> str:
    """A status that fits where the stay is relative to today."""
    if check_out <= today:
        return rng.choices(("CHECKED_OUT", "CANCELLED", "NO_SHOW"), (85, 10, 5))[0]
    if check_in <= today:
        return "CHECKED_IN"
    return rng.choices(("CONFIRMED", "PENDING", "CANCELLED"), (75, 15, 10))[0]


def new_booking(rng: random.Random, external_id: str, currency: str, now: datetime,
                created_at: datetime, updated_at: datetime) -> SimBooking:
    today = now.date()
    check_in = today + timedelta(days=rng.randrange(-20, 180))
    nights = rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 7, 10, 14))
    check_out = check_in + timedelta(days=nights)
    room_type = rng.choice(tuple(ROOM_TYPES))
    first, last, email, phone = guest(rng)
    capacity = ROOM_TYPES[room_type][0]
    adults = rng.randint(1, capacity)
    status = status_for(check_in, check_out, today, rng)
    has_room = status in ("CHECKED_IN", "CHECKED_OUT") or rng.random() < 0.4
    return SimBooking(
        external_id=external_id, uid=new_uid(rng), customer_uid=new_uid(rng), status=status,
        check_in=check_in, check_out=check_out,
        # Most guests arrive in the afternoon; some very late, which near midnight is where a
        # conversion through UTC would move the date.
        arrival=rng.choice((time(15, 0), time(15, 0), time(16, 30), time(23, 45), time(0, 20))),
        departure=rng.choice((time(11, 0), time(10, 30), time(0, 15))),
        first_name=first, last_name=last, email=email, phone=phone,
        room_number=f"{rng.randrange(1, 9)}{rng.randrange(1, 40):02d}" if has_room else None,
        room_type=room_type, adults=adults,
        children=rng.choice((0, 0, 0, 1, 2)) if capacity > 1 else 0,
        total_amount=stay_price(room_type, nights, currency, rng), currency=currency,
        created_at=created_at, updated_at=updated_at, blank_style=rng.choice(BLANK_STYLES))


def change(b: SimBooking, rng: random.Random, today: date, updated_at: datetime) -> SimBooking:
    """One realistic later change: the stay moves on when its day has come, a booking is
    confirmed or cancelled, or it is edited late (price, an extra night, contact details)."""
    roll = rng.random()
    if roll < 0.45:
        room = b.room_number or f"{rng.randrange(1, 9)}{rng.randrange(1, 40):02d}"
        if b.status == "PENDING":
            return b.evolve(status="CONFIRMED", updated_at=updated_at)
        if b.status == "CONFIRMED" and b.check_in <= today:
            status = "NO_SHOW" if rng.random() < 0.1 else "CHECKED_IN"
            return b.evolve(status=status, room_number=room, updated_at=updated_at)
        if b.status == "CHECKED_IN" and b.check_out <= today:
            return b.evolve(status="CHECKED_OUT", room_number=room, updated_at=updated_at)
    if b.status in ("PENDING", "CONFIRMED") and roll < 0.6:
        return b.evolve(status="CANCELLED", updated_at=updated_at)
    if roll < 0.8 and (b.check_out - b.check_in).days < 30:
        # Late update: an extra night at the booking's average rate.
        nights = (b.check_out - b.check_in).days
        per_night = (b.total_amount / nights).quantize(Decimal("0.01"))
        return b.evolve(check_out=b.check_out + timedelta(days=1),
                        total_amount=b.total_amount + per_night, updated_at=updated_at)
    if b.email is None or b.phone is None:
        # The guest added contact details later.
        local = f"{ascii_slug(b.first_name or '')}.{ascii_slug(b.last_name or '')}".strip(".")
        return b.evolve(email=b.email or f"{local or 'guest'}{rng.randrange(1, 99)}@example.net",
                        phone=b.phone or f"+44 20 {rng.randrange(1000, 9999)} "
                                         f"{rng.randrange(1000, 9999)}",
                        updated_at=updated_at)
    # A price correction (a discount applied after booking).
    return b.evolve(total_amount=(b.total_amount * Decimal("0.9")).quantize(Decimal("0.01")),
                    updated_at=updated_at)
