"""The simulator-driven load every scenario starts from, and the common ending: wait for the
exact truth, check every process is still up, and fill in the scenario's record."""

from __future__ import annotations

import time

from tests.faults.fault_pipeline import FaultPipeline
from tests.faults.ground_truth import Comparison, wait_for_truth
from tests.faults.report import ScenarioRecord
from tests.faults.scale import Scale

INVALID_RATE = 0.03
SEED = 14


def start_load(pipeline: FaultPipeline, scale: Scale, **options) -> FaultPipeline:
    """The scenario's pipeline with ``scale``'s hotels and bookings (``options`` go to start_all)."""
    options.setdefault("seed", SEED)
    options.setdefault("invalid_rate", INVALID_RATE)
    return pipeline.start_all(hotels=scale.hotels, bookings=scale.bookings_per_hotel, **options)


def expected_output(scale: Scale, stage: str) -> int:
    """Roughly what ``stage`` produces for the whole load (its progress() at the end)."""
    if stage == "fetcher":
        return scale.bookings
    if stage == "dlq-sink":
        return int(scale.bookings * INVALID_RATE)
    return int(scale.bookings * (1 - INVALID_RATE))


def finish(pipeline: FaultPipeline, scale: Scale, record: ScenarioRecord,
           fault_ended: float) -> Comparison:
    """Wait for the exact truth; ``record.recover_s`` = from ``fault_ended`` (monotonic) to it.

    Two steps: first Postgres and the DLQ equal the truth while the fetcher still polls; then
    the fetcher is stopped (a running one keeps re-reading its overlap window, so some message
    is nearly always in flight) and every stage must commit everything: lag exactly 0."""
    wait_for_truth(pipeline, scale.recover_timeout_s, pipeline.assert_running, lag_zero=False)
    record.recover_s = time.monotonic() - fault_ended
    fetcher = pipeline.services.get("fetcher")
    if fetcher is not None and fetcher.running():
        fetcher.stop()
        pipeline.killed.add("fetcher")   # stopped on purpose: not an exit to fail on
    result, quiesce_s = wait_for_truth(pipeline, 120, pipeline.assert_running)
    record.counts.update(result.counts())
    record.counts["lag 0 after fetcher stop s"] = round(quiesce_s, 1)
    assert result.bookings_loaded >= scale.bookings * 0.9, (
        f"only {result.bookings_loaded} bookings in the truth for a load of {scale.bookings}")
    return result
