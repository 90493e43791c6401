"""Golden samples for ``pms_configs/<type>/golden/<version>/``: one page per family/version,
rendered by the simulator, with the edge cases every config must pass and one invalid record
per defect (every rejection stage), shuffled into the page.

``expected.json`` is the simulator's own truth for that page; ``pmsync config test`` then
proves that the mapping engine, working only from the config, agrees with it. Regenerate
with ``pmsync simulator golden`` after changing a renderer; review the diff like code.
This module must never read a config: the golden files check configs, not the reverse.
"""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pmsync.simulator.booking import SimBooking
from pmsync.simulator.defects import DEFECTS, expected_reject
from pmsync.simulator.render import FAMILIES, Query
from pmsync.simulator.world import HotelState, World

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# A zone west of UTC for families that send offsets, so a late arrival is a day ahead in UTC.
TIMEZONES = {("generic", "v2"): "America/New_York", ("generic", "v1"): "America/New_York"}


def edge_cases(base: list[SimBooking]) -> list[SimBooking]:
    """Valid bookings that a careless engine gets wrong; each must map exactly."""
    a, b, c, d, e, f = base[:6]
    return [
        a.evolve(first_name="Zoë", last_name="Łukasiewicz-Müller 李"),
        b.evolve(first_name="Tom & Jerry", last_name="<b>Smith</b>"),
        # Arrives 23:50 and leaves 00:10 local: in UTC both are on other dates.
        c.evolve(arrival=time(23, 50), departure=time(0, 10),
                 check_in=date(2026, 12, 31), check_out=date(2027, 1, 3)),
        d.evolve(check_in=date(2028, 2, 29), check_out=date(2028, 3, 2)),
        e.evolve(email=None, phone=None, room_number=None, blank_style="empty"),
        f.evolve(first_name="  Ana ", last_name=" Silva  ", check_in=date(2028, 2, 27),
                 check_out=date(2028, 3, 1)),
    ]


def golden_page(pms_type: str, version: str, seed: int = 2026) -> tuple[Any, dict[str, Any]]:
    """(raw response body, expected.json content) for one family/version."""
    family = FAMILIES[(pms_type, version)]
    world = World(seed, 1, start=START, invalid_rate=0.0, initial_bookings=40,
                  families=[(pms_type, version)])
    state = next(iter(world.hotels.values()))
    tz = TIMEZONES.get((pms_type, version))
    if tz:
        state.hotel = dataclasses.replace(state.hotel, timezone=tz)
    pool = [e.current for e in state.entries]
    valid = pool[:14] + edge_cases(pool[14:20])
    invalid = [DEFECTS[name].make(b).evolve(defect=name)
               for name, b in zip(DEFECTS, pool[20:20 + len(DEFECTS)])]
    records = valid + invalid
    random.Random(f"{seed}:{pms_type}:{version}").shuffle(records)

    fresh = HotelState(state.hotel, family)
    for b in records:
        fresh.add(b)
    view = state.hotel.view
    rendered = [family.render(b, view) for b in records]
    query = Query(property_id=state.hotel.property_id, credentials={}, since=None, page=1,
                  offset=0, limit=len(records))
    body = family.envelope(rendered, records, query, len(records), None, view)

    bookings, rejects = [], []
    for index, b in enumerate(records):
        if b.defect is None:
            bookings.append(b.canonical())
            continue
        location = message = None
        if DEFECTS[b.defect].stage == "schema":
            location, message = family.break_schema(family.record(b, view), b.defect)
        reject = expected_reject(b.defect, location, message)
        rejects.append({"index": index, "stage": reject["stage"],
                        "error_class": reject["error_class"], "location": reject["location"],
                        "message_contains": reject["message_contains"]})
    return body, {"bookings": bookings, "rejects": rejects}


def write_all(root: Path) -> list[Path]:
    written = []
    for pms_type, version in FAMILIES:
        body, expected = golden_page(pms_type, version)
        folder = root / pms_type / "golden" / version
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in (("raw.json", body), ("expected.json", expected)):
            path = folder / name
            path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            written.append(path)
    return written
