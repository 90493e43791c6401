"""The exact end state a scenario must reach, checked against the simulator's ground truth:
per hotel the booking count and a checksum of the canonical fields in Postgres equal the
truth's, no booking or guest row twice, the DLQ rows equal the records the simulator
injected as invalid (``pmsync/simulator/defects.py``: stage and error class each), and every
stage's consumer group has committed everything (lag 0)."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from kafka.errors import KafkaError

from pmsync.kafka.lag import lag
from tests.integration.pipeline_harness import Pipeline


def checksum(bookings: dict[str, dict]) -> str:
    """A digest of every canonical field of a hotel's bookings, independent of row order."""
    body = json.dumps([bookings[k] for k in sorted(bookings)], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass
class Comparison:
    hotels: int = 0
    bookings_expected: int = 0
    bookings_loaded: int = 0
    rejects_expected: int = 0
    rejects_stored: int = 0
    duplicate_rows: int = 0
    lag: dict[str, int] | None = None
    differing_hotels: list[str] = field(default_factory=list)   # count, checksum or rejects differ

    @property
    def data_ok(self) -> bool:
        """Postgres and the DLQ rows are the truth (the lag aside)."""
        return not self.differing_hotels and self.duplicate_rows == 0

    @property
    def ok(self) -> bool:
        return self.data_ok and self.lag is not None and all(v == 0 for v in self.lag.values())

    def describe(self) -> str:
        return (f"{len(self.differing_hotels)} of {self.hotels} hotels differ from the truth "
                f"({self.differing_hotels[:8]}); bookings {self.bookings_loaded} loaded vs "
                f"{self.bookings_expected} in the truth; rejects {self.rejects_stored} stored vs "
                f"{self.rejects_expected} injected; {self.duplicate_rows} duplicate rows; "
                f"lag {self.lag if self.lag is not None else 'unreadable (broker down?)'}")

    def counts(self) -> dict[str, int]:
        return {"hotels": self.hotels, "bookings": self.bookings_loaded,
                "rejects": self.rejects_stored, "duplicates": self.duplicate_rows}


def duplicate_rows(pipeline: Pipeline) -> int:
    """Rows beyond the first for one (hotel, external id), in bookings and in guests."""
    with psycopg.connect(pipeline.settings.database_url) as conn:
        return sum(conn.execute(
            f"SELECT count(*) - count(DISTINCT (hotel_id, external_id)) FROM {table} "
            "WHERE hotel_id = ANY(%s)", (list(pipeline.hotels),)).fetchone()[0]
            for table in ("bookings", "guests"))


def stage_lag(pipeline: Pipeline) -> dict[str, int] | None:
    try:
        return lag(pipeline.settings)
    except KafkaError:
        return None


def compare(pipeline: Pipeline, truth: dict[str, dict]) -> Comparison:
    loaded, rejects = pipeline.loaded(), pipeline.rejects()
    result = Comparison(hotels=len(truth))
    for hotel, t in truth.items():
        result.bookings_expected += len(t["bookings"])
        result.bookings_loaded += len(loaded[hotel])
        result.rejects_expected += sum(t["invalid"].values())
        result.rejects_stored += sum(rejects[hotel].values())
        if (len(loaded[hotel]) != len(t["bookings"]) or checksum(loaded[hotel]) != checksum(t["bookings"])
                or rejects[hotel] != Counter(t["invalid"])):
            result.differing_hotels.append(hotel)
    result.duplicate_rows = duplicate_rows(pipeline)
    result.lag = stage_lag(pipeline)
    return result


def wait_for_truth(pipeline: Pipeline, timeout: float, each_poll: Callable[[], None] | None = None,
                   *, lag_zero: bool = True) -> tuple[Comparison, float]:
    """Poll until Postgres, the DLQ and (``lag_zero``) the lag are exactly what the truth says;
    returns the final comparison and the seconds it took. On timeout: AssertionError naming
    what differs. ``each_poll`` runs before every comparison and may fail at once (a process
    that exited will not bring the pipeline to the truth by waiting)."""
    started = time.monotonic()
    reported = 0
    while True:
        if each_poll is not None:
            each_poll()
        # Read again each time: the PMS may still be changing (churn edits during walks).
        truth = pipeline.truth()
        result = compare(pipeline, truth)
        if result.ok or (result.data_ok and not lag_zero):
            return result, time.monotonic() - started
        if int(time.monotonic() - started) // 30 > reported:
            reported += 1   # a line every 30 s shows where a slow recovery stands
            print(f"\n[faults] after {time.monotonic() - started:.0f}s still waiting: {result.describe()}", flush=True)
        if time.monotonic() - started > timeout:
            message = f"after {timeout:.0f}s: {result.describe()}\n{pipeline.describe_difference(truth)}"
            print(f"\n[faults] not at the truth {message}", flush=True)   # in the log as it happens
            raise AssertionError(message)
        time.sleep(1)
