"""kill -9 of each pipeline service mid-stream, then started again: Postgres, the DLQ and the
lag end exactly at the simulator's truth (nothing lost, nothing twice)."""

from __future__ import annotations

import time

import pytest

from tests.faults.load import expected_output, finish, start_load

pytestmark = pytest.mark.timeout(900)

SERVICES = ("fetcher", "validator", "mapper", "loader", "dlq-sink")
KILL_AT = 0.25    # kill once the service produced this share of its output


@pytest.mark.parametrize("victim", SERVICES)
def test_kill_9_mid_stream_and_restart_loses_and_duplicates_nothing(pipeline, scale, record, victim):
    start_load(pipeline, scale)
    total = expected_output(scale, victim)
    done = pipeline.wait_for_progress(victim, int(total * KILL_AT), 120)
    pipeline.kill(victim)
    killed_at = time.monotonic()
    record.did = (f"kill -9 {victim} after {done} of ~{total} of its outputs "
                  f"({100 * done / total:.0f}%), restarted 1 s later")
    time.sleep(1)   # the rest of the pipeline runs on without it for a moment
    pipeline.restart(victim)
    finish(pipeline, scale, record, killed_at)
    record.passed = True
