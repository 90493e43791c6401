"""Postgres stopped mid-stream (``scale.postgres_outage_s``, 60 s) and started again: every
process of the pipeline, the DLQ sink included, rides it out on its own (none is restarted by
the test) and the result is exactly the simulator's truth."""

from __future__ import annotations

import time

import pytest

from tests.faults.load import expected_output, finish, start_load

pytestmark = pytest.mark.timeout(900)


def test_postgres_stopped_mid_stream_and_started_loses_and_duplicates_nothing(
        pipeline, private_stack, scale, record):
    start_load(pipeline, scale)
    done = pipeline.wait_for_progress("loader", int(expected_output(scale, "loader") * 0.25), 120)
    private_stack.stop_postgres()
    time.sleep(scale.postgres_outage_s)   # the outage itself
    restarted = time.monotonic()
    private_stack.start_postgres()
    record.did = (f"stop Postgres after {done} bookings loaded, down {scale.postgres_outage_s:.0f} s, "
                  f"started (up again in {time.monotonic() - restarted:.1f} s)")
    finish(pipeline, scale, record, restarted)
    record.passed = True
