"""Fault injection per hotel: what can go wrong between a PMS and the fetcher.

Settings come from a JSON object (CLI ``--faults FILE`` or ``POST /_sim/faults``)::

    {"default": {"latency_ms": 50, "latency_max_ms": 500},
     "hotels": {"sim-003": {"error_rate": 0.3, "rate_limit_rate": 0.2, "retry_after_seconds": 2},
                "sim-007": {"timeout_rate": 1.0, "hang_seconds": 40}}}

Rates are probabilities per page request (0..1). Each hotel draws from its own seeded random
stream, so a run with the same seed and the same requests sees the same faults. With
``latency_max_ms`` above ``latency_ms`` each response waits a uniform draw between the two (a
real PMS's 50–500 ms), from a stream of its own so the other faults' draws stay the same.

Faults only change what is *served*, never the world: a page made unreadable (5xx, 429,
malformed or truncated body, a hang) leaves the truth as it was; duplicates and stale
versions are served in addition to the real records. This module must never mutate a
booking.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

_INT_FIELDS = ("latency_ms", "latency_max_ms", "retry_after_seconds")
RATE_FIELDS = ("timeout_rate", "error_rate", "rate_limit_rate", "malformed_rate",
               "truncated_rate", "duplicate_rate", "out_of_order_rate", "churn_rate")


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: int = 0              # added to every response of the hotel
    latency_max_ms: int = 0          # if above latency_ms: uniform in [latency_ms, latency_max_ms]
    timeout_rate: float = 0.0        # hang for hang_seconds (longer than any client timeout)
    hang_seconds: float = 30.0
    error_rate: float = 0.0          # answer 500/502/503
    rate_limit_rate: float = 0.0     # answer 429 with Retry-After
    retry_after_seconds: int = 1
    malformed_rate: float = 0.0      # a body that is not JSON at all
    truncated_rate: float = 0.0      # valid JSON cut off half way
    duplicate_rate: float = 0.0      # one record of the page served twice
    out_of_order_rate: float = 0.0   # an older version served after the newer one
    # Not a fault of what is served: with it above 0 the hotel's PMS orders records by
    # modification time and edits bookings between the page requests of a walk (churn.py).
    churn_rate: float = 0.0

    @classmethod
    def from_dict(cls, data: Any, where: str = "faults") -> "FaultSettings":
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"{where}.{key}: unknown fault setting "
                                 f"(known: {', '.join(known)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}.{key}: expected a number")
            if key in RATE_FIELDS and not 0 <= value <= 1:
                raise ValueError(f"{where}.{key}: a rate is between 0 and 1")
            if value < 0:
                raise ValueError(f"{where}.{key}: must not be negative")
            values[key] = int(value) if key in _INT_FIELDS else value
        return cls(**values)


@dataclass(frozen=True)
class Decision:
    """What to do to one page request."""
    hang: bool = False
    status: int | None = None        # 5xx or 429 instead of the page
    malformed: bool = False
    truncated: bool = False
    duplicate: bool = False
    out_of_order: bool = False


class Faults:
    """Fault settings for every hotel and each hotel's random stream."""

    def __init__(self, seed: int, default: FaultSettings | None = None,
                 hotels: dict[str, FaultSettings] | None = None) -> None:
        self.seed = seed
        self.default = default or FaultSettings()
        self.per_hotel: dict[str, FaultSettings] = dict(hotels or {})
        self._streams: dict[str, random.Random] = {}
        self._latency_streams: dict[str, random.Random] = {}

    def load(self, data: Any) -> None:
        """Replace the settings from the JSON shape in the module docstring."""
        if not isinstance(data, dict):
            raise ValueError("faults: expected an object with 'default' and/or 'hotels'")
        unknown = set(data) - {"default", "hotels"}
        if unknown:
            raise ValueError(f"faults: unknown keys {sorted(unknown)}")
        default = FaultSettings.from_dict(data.get("default") or {}, "faults.default")
        hotels = data.get("hotels") or {}
        if not isinstance(hotels, dict):
            raise ValueError("faults.hotels: expected an object of hotel id → settings")
        self.default = default
        self.per_hotel = {hid: FaultSettings.from_dict(s, f"faults.hotels.{hid}")
                          for hid, s in hotels.items()}

    def as_dict(self) -> dict[str, Any]:
        return {"default": dataclasses.asdict(self.default),
                "hotels": {hid: dataclasses.asdict(s) for hid, s in self.per_hotel.items()}}

    def settings(self, hotel_id: str) -> FaultSettings:
        return self.per_hotel.get(hotel_id, self.default)

    def latency_s(self, hotel_id: str) -> float:
        """How long this response of the hotel waits before it is sent."""
        s = self.settings(hotel_id)
        if s.latency_max_ms <= s.latency_ms:
            return s.latency_ms / 1000
        rng = self._latency_streams.setdefault(
            hotel_id, random.Random(f"{self.seed}:latency:{hotel_id}"))
        return rng.uniform(s.latency_ms, s.latency_max_ms) / 1000

    def decide(self, hotel_id: str) -> Decision:
        s = self.settings(hotel_id)
        rng = self._streams.setdefault(hotel_id, random.Random(f"{self.seed}:faults:{hotel_id}"))
        # Always draw every number, so one setting's change does not shift the others' stream.
        draws = [rng.random() for _ in range(7)]
        if draws[0] < s.timeout_rate:
            return Decision(hang=True)
        if draws[1] < s.rate_limit_rate:
            return Decision(status=429)
        if draws[2] < s.error_rate:
            return Decision(status=(500, 502, 503)[int(draws[2] * 1e6) % 3])
        return Decision(malformed=draws[3] < s.malformed_rate,
                        truncated=draws[4] < s.truncated_rate,
                        duplicate=draws[5] < s.duplicate_rate,
                        out_of_order=draws[6] < s.out_of_order_rate)
