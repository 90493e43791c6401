"""Two instances of each stream worker share its partitions; a third joins mid-stream, and
while the group rebalances for it the first instance is killed (-9). The group settles on
the survivors and the result is exactly the simulator's truth."""

from __future__ import annotations

import time

import pytest

from tests.faults.load import expected_output, finish, start_load

pytestmark = pytest.mark.timeout(900)

STREAM_WORKERS = ("validator", "mapper", "loader", "dlq-sink")
REBALANCING = ("PreparingRebalance", "CompletingRebalance")


@pytest.mark.parametrize("worker", STREAM_WORKERS)
def test_an_instance_killed_during_a_rebalance_loses_and_duplicates_nothing(pipeline, scale, record, worker):
    start_load(pipeline, scale, instances=2)
    total = expected_output(scale, worker)
    done = pipeline.wait_for_progress(worker, int(total * 0.2), 120)
    pipeline.wait_until_group(worker, lambda state, members: state == "Stable" and members == 2,
                              "two stable members")
    pipeline.start_instance(worker, f"{worker}-3")
    state, members = pipeline.wait_until_group(worker, lambda state, _: state in REBALANCING,
                                               "a rebalance for the joining third instance")
    pipeline.kill(worker)
    killed_at = time.monotonic()
    record.did = (f"2 instances of {worker}; after {done} of ~{total} outputs a 3rd joined and the "
                  f"1st was killed -9 while the group was {state} ({members} members)")
    # The group must notice the dead member (its session times out) and settle on the two
    # survivors; only then can the truth be final.
    settled = pipeline.wait_until_group(worker, lambda state, members: state == "Stable" and members == 2,
                                        "Stable with the 2 surviving instances", timeout=120)
    record.counts["group settled s"] = round(time.monotonic() - killed_at, 1)
    record.counts["members after"] = settled[1]
    finish(pipeline, scale, record, killed_at)
    record.passed = True
