"""Churn: a hotel's PMS editing bookings *while* a fetcher walks its pages.

Real "changed since" APIs order records by modification time and filter them by the request's
time window, so an edit between two page requests of one walk moves a record: to the end of
the order, or out of an ``until`` window. Every record after its old place moves up one, and
the one at the page boundary lands on a page the walk already read; with an id cursor, the
cursor record itself moving makes "the records after it" start after its new place. This is
what the fetcher's confirming walks (pmsync/fetching/walks.py) must survive.

Turned on per hotel by the ``churn_rate`` fault setting (faults JSON, ``--fault
churn_rate=0.5``, ``POST /_sim/faults``). With it above 0 the hotel's records are served in
modification-time order, and after each page that is not the walk's last, with probability
``churn_rate``, the PMS edits two bookings before the next request: the last valid record the
page served (the boundary: the next cursor, and the record whose move shifts the next page),
and one valid booking of the hotel drawn at random. Edits go into the ground truth like a
tick's changes do. Each hotel draws from its own stream seeded by the simulator's seed, so
the same requests at the same clock make the same edits.

This module must never edit a hotel whose ``churn_rate`` is 0, nor edit anything when the page
was the walk's last (no later request of that walk could be affected).
"""

from __future__ import annotations

import random
from datetime import datetime

from pmsync.simulator.world import Entry, HotelState, whole_seconds


class Churn:
    """Each hotel's churn stream and the edits it makes."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}
        self.edits = 0

    def after_page(self, state: HotelState, served: list[Entry], last: bool, rate: float,
                   now: datetime) -> list[Entry]:
        """Maybe edit bookings after a page was served; returns the entries edited."""
        if rate <= 0 or last:
            return []
        rng = self._streams.setdefault(
            state.hotel.id, random.Random(f"{self.seed}:churn:{state.hotel.id}"))
        # Always draw, so the stream depends on the requests only, not on the rate.
        roll = rng.random()
        if roll >= rate:
            return []
        targets: list[Entry] = []
        boundary = next((e for e in reversed(served) if e.current.defect is None), None)
        if boundary is not None:
            targets.append(boundary)
        live = [e for e in state.entries if e.current.defect is None and e not in targets]
        if live:
            targets.append(rng.choice(live))
        for entry in targets:
            state.change(entry, rng, whole_seconds(now))
        self.edits += len(targets)
        return targets
