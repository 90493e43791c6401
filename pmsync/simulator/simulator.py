"""``Simulator``: a world, its faults and a clock, answering PMS requests as plain data.

``respond()`` turns one HTTP request (method, path, query, headers, body bytes) into a
``Reply``; ``server.py`` only moves bytes between aiohttp and here, so everything a PMS does
can be tested without a socket. This module must never sleep or read sockets: a ``Reply``
says how long to wait and the server waits.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, Mapping

import orjson
from multidict import CIMultiDict

from pmsync.simulator import pages
from pmsync.simulator.churn import Churn
from pmsync.simulator.faults import Faults
from pmsync.simulator.render import FAMILIES, Family, SimHttpError
from pmsync.simulator.world import HotelState, World

Clock = Callable[[], datetime]


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0       # wait this long before answering (latency, hangs)
    hotel_id: str | None = None


def _json_reply(status: int, payload: Any, **headers: str) -> Reply:
    return Reply(status, orjson.dumps(payload), {"Content-Type": "application/json", **headers})


def _error(status: int, message: str) -> Reply:
    return _json_reply(status, {"error": {"status": status, "message": message}})


class Simulator:
    def __init__(self, seed: int = 7, hotels: int = 12, *,
                 base_url: str = "http://127.0.0.1:8081", invalid_rate: float = 0.05,
                 initial_bookings: int = 30, faults: Mapping[str, Any] | None = None,
                 clock: Clock | None = None,
                 families: list[tuple[str, str]] | None = None) -> None:
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.world = World(seed, hotels, start=self.clock(), base_url=base_url,
                           invalid_rate=invalid_rate, initial_bookings=initial_bookings,
                           families=families)
        self.faults = Faults(seed)
        if faults:
            self.faults.load(dict(faults))
        self.churn = Churn(seed)
        self._routes: dict[tuple[str, str], Family] = {
            (f.method, f.path): f for f in FAMILIES.values()}
        self.requests = 0

    # -- the Python API ------------------------------------------------------------------
    def hotels(self, with_credentials: bool = True) -> list[dict[str, Any]]:
        """The hotel registry: what the fetcher needs to poll each hotel."""
        return [s.hotel.registry_entry(with_credentials) for s in self.world.hotels.values()]

    def tick(self, count: int = 1) -> dict[str, int]:
        totals = {"created": 0, "changed": 0}
        result: dict[str, int] = {}
        for _ in range(count):
            result = self.world.tick(self.clock())
            totals["created"] += result["created"]
            totals["changed"] += result["changed"]
        return {"tick": result.get("tick", self.world.ticks), **totals}

    def truth(self, hotel_id: str | None = None) -> dict[str, Any]:
        if hotel_id is None:
            return self.world.truth()
        return self.world.hotels[hotel_id].truth()

    def routes(self) -> list[tuple[str, str]]:
        return sorted(self._routes)

    # -- one request ---------------------------------------------------------------------
    def respond(self, method: str, path: str, query: Mapping[str, str],
                headers: Mapping[str, str], body: bytes) -> Reply:
        family = self._routes.get((method.upper(), path))
        if family is None:
            return _error(404, f"no PMS endpoint {method} {path}")
        self.requests += 1
        headers = CIMultiDict(headers)   # HTTP header names are case-insensitive
        parsed: Any = None
        if method.upper() == "POST":
            try:
                parsed = orjson.loads(body or b"null")
            except orjson.JSONDecodeError:
                return _error(400, "the request body is not JSON")
        try:
            q = family.parse_request(query, headers, parsed)
            state = self._hotel(family, q.property_id, q.credentials)
            decision = self.faults.decide(state.hotel.id)
            settings = self.faults.settings(state.hotel.id)
            delay = self.faults.latency_s(state.hotel.id)
            if decision.hang:
                return Reply(504, b"", {}, delay + settings.hang_seconds, state.hotel.id)
            if decision.status == 429:
                reply = _error(429, "too many requests")
                reply.headers["Retry-After"] = str(settings.retry_after_seconds)
            elif decision.status is not None:
                reply = _error(decision.status, "the PMS is having a bad day")
            else:
                churning = settings.churn_rate > 0
                served = pages.build(state, q, decision, by_modification=churning)
                reply = _json_reply(200, served.body)
                # The PMS edits between this request and the walk's next one (churn.py).
                self.churn.after_page(state, served.entries, served.last, settings.churn_rate,
                                      self.clock())
                if decision.malformed:
                    reply.body = b'{"data": [{"reservationID": 4411, <html>Bad Gateway</html>'
                elif decision.truncated:
                    reply.body = reply.body[: max(1, len(reply.body) // 2)]
            reply.delay_seconds = delay
            reply.hotel_id = state.hotel.id
            return reply
        except SimHttpError as exc:
            return _error(exc.status, exc.message)

    def _hotel(self, family: Family, property_id: str | None,
               presented: Mapping[str, str]) -> HotelState:
        for state in self.world.hotels.values():
            if state.family is not family:
                continue
            hotel = state.hotel
            if property_id is not None and hotel.property_id != property_id:
                continue
            if property_id is None and not hmac.compare_digest(
                    presented.get("access_token", ""), hotel.credentials["access_token"]):
                continue
            for name, expected in hotel.credentials.items():
                if not hmac.compare_digest(presented.get(name, ""), expected):
                    raise SimHttpError(401, f"invalid credentials for property {hotel.property_id}")
            return state
        if property_id is None:
            raise SimHttpError(401, "no property has this access token")
        raise SimHttpError(404, f"unknown property {property_id!r}")
