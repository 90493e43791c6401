"""How big each fault scenario is: ``PMSYNC_FAULTS_SCALE=ci`` (default) or ``long``.

CI runs the whole suite on a 2-core machine inside its time budget; ``long`` is the same
suite at the size whose figures go in the release note.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    hotels: int
    bookings_per_hotel: int      # the simulator's initial bookings per hotel
    postgres_outage_s: float     # how long Postgres stays stopped
    recover_timeout_s: float     # bound on every wait for the pipeline to reach the truth

    @property
    def bookings(self) -> int:
        return self.hotels * self.bookings_per_hotel


SCALES = {
    "ci": Scale("ci", hotels=100, bookings_per_hotel=100, postgres_outage_s=60, recover_timeout_s=300),
    "long": Scale("long", hotels=200, bookings_per_hotel=250, postgres_outage_s=60, recover_timeout_s=900),
}


def current_scale() -> Scale:
    name = os.environ.get("PMSYNC_FAULTS_SCALE", "ci")
    if name not in SCALES:
        raise ValueError(f"PMSYNC_FAULTS_SCALE={name!r}: expected one of {', '.join(SCALES)}")
    return SCALES[name]
