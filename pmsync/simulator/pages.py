"""One page of one hotel's reservations: the "changed since" filter, the family's paging, the
extra records a duplicate or out-of-order fault adds, and the family's response body.

Paging rules, identical to what the configs' ``source.pagination`` tells the fetcher:
``none`` serves everything; ``page`` serves records ``(page-1)*size …``; ``offset`` serves
``offset …``; ``cursor`` serves the records after the one whose ``Id`` is the cursor, and
answers the last served record's ``Id`` as the next cursor (null on an empty page). Positions
are in creation order, or in modification-time order for a hotel in churn mode; "after the
cursor record" means after where that record sorts *now*, as an id cursor on a real PMS does.

Extras never disturb paging: with offset paging the fetcher advances by the number of
records it received, so extras go only on the last page there. This module must never change
the world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pmsync.simulator.booking import SimBooking
from pmsync.simulator.faults import Decision
from pmsync.simulator.render import Query, SimHttpError
from pmsync.simulator.world import Entry, HotelState, modification_order


@dataclass(frozen=True)
class Served:
    """One page as answered: its body, the records it holds and whether it ends the walk."""
    body: Any
    entries: list[Entry]
    last: bool


def select(state: HotelState, query: Query, by_modification: bool = False
           ) -> tuple[list[Entry], int, bool, str | None]:
    """(entries of this page, total matching, is the last page, next cursor)."""
    entries = state.visible(query.since, query.until, by_modification)
    total = len(entries)
    kind = state.family.pagination
    if kind == "none":
        return entries, total, True, None
    size = query.limit or state.family.default_page_size
    if kind in ("page", "offset"):
        start = (query.page - 1) * size if kind == "page" else (query.offset or 0)
        chunk = entries[start:start + size]
        return chunk, total, start + size >= total, None
    rest = entries
    if query.cursor:
        known = state.by_uid.get(query.cursor)
        if known is None:
            raise SimHttpError(400, f"unknown cursor {query.cursor!r}")
        if by_modification:
            rest = [e for e in entries if modification_order(e) > modification_order(known)]
        else:
            rest = [e for e in entries if e.seq > known.seq]
    chunk = rest[:size]
    return chunk, total, len(rest) <= size, chunk[-1].current.uid if chunk else None


def with_extras(chunk: list[Entry], decision: Decision, last: bool,
                pagination: str) -> list[SimBooking]:
    """The snapshots to serve, in order, with a duplicate and/or a stale version added."""
    served = [e.current for e in chunk]
    if not chunk or (pagination == "offset" and not last):
        return served
    if decision.duplicate:
        middle = len(served) // 2
        served.insert(middle + 1, served[middle])
    if decision.out_of_order:
        for e in chunk:
            if e.history:
                # The version this one replaced, served right after it: the newer must win.
                served.insert(served.index(e.current) + 1, e.history[-1])
                break
    return served


def build(state: HotelState, query: Query, decision: Decision,
          by_modification: bool = False) -> Served:
    """The response (a JSON-ready body) for one page request."""
    chunk, total, last, next_cursor = select(state, query, by_modification)
    family = state.family
    served = with_extras(chunk, decision, last, family.pagination)
    view = state.hotel.view
    records = [family.render(b, view) for b in served]
    return Served(family.envelope(records, served, query, total, next_cursor, view), chunk, last)
