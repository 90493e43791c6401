"""The simulated world: hotels spread over the PMS families, their bookings as canonical ground
truth, and how both change over time.

Everything is a function of the seed, the hotel count and the times passed in: the same seed
and the same ``tick(now)`` calls give the same world, byte for byte. Records are kept in
creation order (``seq``), which is the order every family serves them in by default, so a
booking that changes during a paged walk never shifts the records after it. A hotel in churn
mode (``churn.py``) is served in modification-time order instead, as real PMSs do, where
changes during a walk do shift pages.

Property ids are unique in a world: the same id on two hotels would route the second one's
requests to the first, which then refuses its credentials forever.

This module must never do I/O or read the wall clock itself (callers pass ``now``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pmsync.simulator import generate
from pmsync.simulator.booking import SimBooking, iso_z
from pmsync.simulator.defects import DEFECTS, expected_reject
from pmsync.simulator.render import FAMILIES, Family, HotelView

CITIES = ("Lisbon", "Porto", "Paris", "Lyon", "Berlin", "Prague", "Vienna", "London", "Madrid",
          "Tokyo", "Austin", "Recife", "Sydney", "Oaxaca", "Bergen")
KINDS = ("Harbour", "Garden", "Central", "Riverside", "Old Town", "Station", "Park")


@dataclass(frozen=True)
class Hotel:
    """One tenant as the fetcher registers it (``credentials`` are the simulator's own)."""
    id: str
    name: str
    pms_type: str
    pms_version: str
    property_id: str
    credentials: dict[str, str]
    base_url: str
    timezone: str
    currency: str

    def registry_entry(self, with_credentials: bool = True) -> dict[str, Any]:
        entry = {"id": self.id, "name": self.name, "pms_type": self.pms_type,
                 "pms_version": self.pms_version, "property_id": self.property_id,
                 "base_url": self.base_url, "timezone": self.timezone,
                 "currency": self.currency}
        if with_credentials:
            entry["credentials"] = dict(self.credentials)
        return entry

    @property
    def view(self) -> HotelView:
        return HotelView(self.id, self.property_id, self.timezone, self.currency)


@dataclass
class Entry:
    """One record a hotel's PMS lists: its current snapshot and the versions it replaced."""
    seq: int
    current: SimBooking
    history: list[SimBooking] = field(default_factory=list)   # oldest first


@dataclass
class HotelState:
    hotel: Hotel
    family: Family
    entries: list[Entry] = field(default_factory=list)
    by_uid: dict[str, Entry] = field(default_factory=dict)
    external_ids: set[str] = field(default_factory=set)

    def add(self, booking: SimBooking) -> Entry:
        entry = Entry(len(self.entries), booking)
        self.entries.append(entry)
        self.by_uid[booking.uid] = entry
        self.external_ids.add(booking.external_id)
        return entry

    def update(self, entry: Entry, booking: SimBooking) -> None:
        entry.history.append(entry.current)
        entry.current = booking

    def change(self, entry: Entry, rng: random.Random, now: datetime) -> None:
        """One realistic change to a booking at ``now``, strictly newer than the version it
        replaces even within one second, so "newest wins" is never a tie."""
        stamp = max(now, entry.current.updated_at + timedelta(seconds=1))
        self.update(entry, generate.change(entry.current, rng, now.date(), stamp))

    def visible(self, since: datetime | None, until: datetime | None,
                by_modification: bool = False) -> list[Entry]:
        """Records changed in [since, until] (the "changed since" filter), in creation order or,
        ``by_modification``, in modification-time order (ties in creation order)."""
        found = [e for e in self.entries
                 if (since is None or e.current.updated_at >= since)
                 and (until is None or e.current.updated_at <= until)]
        if by_modification:
            found.sort(key=modification_order)
        return found

    def truth(self) -> dict[str, Any]:
        """What a correct pipeline ends with for this hotel after reading every record:
        ``bookings`` (newest version of each, canonical, by external id) and ``invalid``
        (each injected invalid record once; a duplicate fault can get one rejected twice)."""
        bookings, invalid = [], []
        for e in self.entries:
            b = e.current
            if b.defect is None:
                bookings.append(b.canonical())
                continue
            location = message = None
            if DEFECTS[b.defect].stage == "schema":
                location, message = self.family.break_schema(
                    self.family.record(b, self.hotel.view), b.defect)
            invalid.append({"uid": b.uid,
                            "external_id": None if b.defect == "missing_id" else b.external_id,
                            "defect": b.defect, "source_updated_at": iso_z(b.updated_at),
                            **expected_reject(b.defect, location, message)})
        bookings.sort(key=lambda c: c["external_id"])
        return {"hotel_id": self.hotel.id, "pms_type": self.hotel.pms_type,
                "pms_version": self.hotel.pms_version, "bookings": bookings,
                "invalid": invalid}


def modification_order(entry: Entry) -> tuple[datetime, int]:
    """Where a record sorts in modification-time order; an edit moves it to the end."""
    return entry.current.updated_at, entry.seq


def unique_property_id(candidate: str, index: int, taken: set[str]) -> str:
    """``candidate`` unless another hotel of the world has it; then the candidate with the
    hotel's index appended, which no family's own format produces and no other hotel shares.
    Hotels that did not collide keep the id (and the world) their seed always gave them."""
    return candidate if candidate not in taken else f"{candidate}-{index + 1}"


def whole_seconds(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


class World:
    """Hotels and bookings. ``tick(now)`` moves time on: new bookings, status changes,
    cancellations, late updates and, at ``invalid_rate``, invalid records of every stage."""

    def __init__(self, seed: int, hotel_count: int, *, start: datetime,
                 base_url: str = "http://127.0.0.1:8081", invalid_rate: float = 0.05,
                 initial_bookings: int = 30,
                 families: list[tuple[str, str]] | None = None) -> None:
        if hotel_count < 1:
            raise ValueError("hotel_count must be at least 1")
        if not 0 <= invalid_rate <= 1:
            raise ValueError("invalid_rate must be between 0 and 1")
        self.seed = seed
        self.invalid_rate = invalid_rate
        self.ticks = 0
        self.now = whole_seconds(start)
        keys = families or list(FAMILIES)
        self.hotels: dict[str, HotelState] = {}
        property_ids: set[str] = set()
        for i in range(hotel_count):
            family = FAMILIES[keys[i % len(keys)]]
            rng = random.Random(f"{seed}:hotel:{i}")
            hotel_id = f"sim-{i + 1:03d}"
            hotel = Hotel(
                id=hotel_id, name=f"{rng.choice(CITIES)} {rng.choice(KINDS)} Hotel",
                pms_type=family.pms_type, pms_version=family.pms_version,
                property_id=unique_property_id(family.new_property_id(rng), i, property_ids),
                credentials={name: f"sim_{name}_{rng.getrandbits(64):016x}"
                             for name in family.credential_names},
                base_url=base_url.rstrip("/"), timezone=rng.choice(family.timezones),
                currency=rng.choice(generate.CURRENCIES))
            property_ids.add(hotel.property_id)
            state = HotelState(hotel, family)
            self.hotels[hotel_id] = state
            for _ in range(initial_bookings):
                self._initial_record(state, rng)

    # -- building ------------------------------------------------------------------------
    def _external_id(self, state: HotelState, rng: random.Random) -> str:
        while True:
            candidate = state.family.new_external_id(rng)
            if candidate not in state.external_ids:
                return candidate

    def _new(self, state: HotelState, rng: random.Random, created: datetime,
             updated: datetime) -> SimBooking:
        b = generate.new_booking(rng, self._external_id(state, rng), state.hotel.currency,
                                 self.now, created, updated)
        if rng.random() < self.invalid_rate:
            defect = rng.choice(tuple(DEFECTS.values()))
            b = defect.make(b).evolve(defect=defect.name)
        return b

    def _initial_record(self, state: HotelState, rng: random.Random) -> None:
        age = timedelta(seconds=rng.randrange(3600, 30 * 86400))
        created = self.now - age
        updated = created + timedelta(seconds=rng.randrange(0, int(age.total_seconds())))
        b = self._new(state, rng, created, updated)
        if b.defect is None and updated > created and rng.random() < 0.4:
            # It was edited once before the world started: keep that version as history
            # (an out-of-order fault can serve it again).
            first = b.evolve(updated_at=created,
                             status="PENDING" if b.status == "CONFIRMED" else b.status,
                             total_amount=b.total_amount + 10)
            entry = state.add(first)
            state.update(entry, b)
        else:
            state.add(b)

    # -- time ----------------------------------------------------------------------------
    def tick(self, now: datetime) -> dict[str, int]:
        """Advance the world to ``now``; returns how many records were created and changed."""
        self.ticks += 1
        self.now = max(whole_seconds(now), self.now)
        created = changed = 0
        for hotel_id, state in self.hotels.items():
            rng = random.Random(f"{self.seed}:tick:{self.ticks}:{hotel_id}")
            # Changes pick among records that existed before this tick, so "created" and
            # "changed" count different records.
            live = [e for e in state.entries if e.current.defect is None]
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                state.add(self._new(state, rng, self.now, self.now))
                created += 1
            for entry in rng.sample(live, min(len(live), rng.choice((0, 1, 1, 2, 3)))):
                state.change(entry, rng, self.now)
                changed += 1
        return {"tick": self.ticks, "created": created, "changed": changed}

    def truth(self) -> dict[str, Any]:
        return {"tick": self.ticks, "now": iso_z(self.now),
                "hotels": {hid: s.truth() for hid, s in self.hotels.items()}}
