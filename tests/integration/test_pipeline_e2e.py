"""The whole pipeline against the simulator's ground truth, with real processes, Kafka and
Postgres: exact bookings per hotel, exact rejects per stage and class, updates, re-syncs,
crashes. One pipeline serves the module (each test leaves it at the truth for the next)."""

from __future__ import annotations

import time

import psycopg
import pytest

from pmsync.kafka.lag import lag
from tests.conftest import make_settings
from tests.integration.pipeline_harness import Pipeline

pytestmark = pytest.mark.integration

FAULTS = {"hotels": {
    "sim-002": {"duplicate_rate": 0.5, "out_of_order_rate": 0.5},
    "sim-004": {"error_rate": 0.3, "rate_limit_rate": 0.2, "retry_after_seconds": 1},
    "sim-009": {"truncated_rate": 0.5, "malformed_rate": 0.3},
}}


@pytest.fixture(scope="module")
def pipeline(services, database, tmp_path_factory):
    settings = make_settings(services, database)
    pipe = Pipeline(settings, tmp_path_factory.mktemp("pipeline"))
    try:
        yield pipe.start(hotels=12, bookings=40, seed=11, invalid_rate=0.1, faults=FAULTS)
    finally:
        pipe.stop()


def test_first_sync_equals_the_simulators_truth(pipeline):
    pipeline.fetch_until_all_succeed()
    truth = pipeline.wait_until_matches_truth()
    total = sum(len(t["bookings"]) for t in truth.values())
    rejected = sum(sum(t["invalid"].values()) for t in truth.values())
    stages = {stage for t in truth.values() for stage, _ in t["invalid"]}
    # The comparison above is exact; these say it compared something substantial.
    assert total >= 12 * 30 and rejected > 0
    assert stages == {"schema", "mapping", "business_rule"}


def test_updates_and_cancellations_flow_through(pipeline):
    before = pipeline.truth()
    for _ in range(3):
        pipeline.tick()
    after = pipeline.truth()
    changed = [(h, k) for h, t in after.items() for k, b in t["bookings"].items()
               if k in before[h]["bookings"] and before[h]["bookings"][k] != b]
    cancelled = [(h, k) for h, k in changed if after[h]["bookings"][k]["status"] == "CANCELLED"
                 and before[h]["bookings"][k]["status"] != "CANCELLED"]
    assert changed and cancelled, "the simulator's ticks should change and cancel bookings"
    pipeline.fetch_until_all_succeed()
    pipeline.wait_until_matches_truth()


def _snapshot(settings):
    with psycopg.connect(settings.database_url) as conn:
        bookings = conn.execute("SELECT * FROM bookings ORDER BY hotel_id, external_id").fetchall()
        guests = conn.execute("SELECT hotel_id, external_id, first_name, last_name, email, phone "
                              "FROM guests ORDER BY 1, 2").fetchall()
        dlq = conn.execute("SELECT count(*) FROM dlq_messages").fetchone()[0]
    return bookings, guests, dlq


def test_running_the_same_sync_again_changes_nothing(pipeline):
    pipeline.wait_until_matches_truth()
    before = _snapshot(pipeline.settings)
    with psycopg.connect(pipeline.settings.database_url, autocommit=True) as conn:
        # Forget every checkpoint: the next pass re-reads each hotel from the beginning.
        conn.execute("UPDATE sync_checkpoints SET delta_cursor = NULL WHERE hotel_id = ANY(%s)",
                     (list(pipeline.hotels),))
    pipeline.fetch_until_all_succeed()
    deadline = time.monotonic() + 60
    # Every re-read record passes through all stages; wait until each stage is idle.
    while time.monotonic() < deadline:
        if _lag_is_zero(pipeline):
            break
        time.sleep(1)
    assert _snapshot(pipeline.settings) == before  # bookings, guests, and no new DLQ rows
    pipeline.wait_until_matches_truth()


def _lag_is_zero(pipeline) -> bool:
    return not any(lag(pipeline.settings).values())


@pytest.mark.parametrize("worker", ["validator", "mapper", "loader"])
def test_killing_a_worker_mid_stream_loses_and_duplicates_nothing(pipeline, worker):
    for _ in range(2):
        pipeline.tick()
    pipeline.fetch_until_all_succeed()
    # Crash it while it works through the new messages, then start it again.
    time.sleep(0.5)
    pipeline.services[worker].kill()
    time.sleep(1)
    pipeline.start_worker(worker)
    pipeline.wait_until_matches_truth()
    with psycopg.connect(pipeline.settings.database_url) as conn:
        dup = conn.execute("SELECT count(*) FROM (SELECT origin FROM dlq_messages WHERE origin IS NOT NULL "
                           "GROUP BY origin HAVING count(*) > 1) d").fetchone()[0]
    assert dup == 0
