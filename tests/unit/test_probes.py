"""The stream workers' health endpoint: alive = the loop turns; ready = consuming, not stuck."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from pmsync.probes import Probe, serve
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def probe(clock: Clock) -> Probe:
    return Probe(alive_within_s=30, stuck_after_s=60, clock=clock)


def test_a_starting_worker_is_alive_but_not_ready(probe: Probe, clock: Clock) -> None:
    clock.now += 10
    assert probe.liveness().ok
    verdict = probe.readiness()
    assert not verdict.ok and "no poll yet" in verdict.reason


def test_a_start_that_never_reaches_the_loop_is_not_alive(probe: Probe, clock: Clock) -> None:
    clock.now += 31
    assert not probe.liveness().ok


def test_polling_with_partitions_is_ready(probe: Probe) -> None:
    probe.polled(assigned=3, waiting=0)
    assert probe.liveness().ok
    verdict = probe.readiness()
    assert verdict.ok and verdict.detail["assigned_partitions"] == 3


def test_no_partitions_assigned_is_not_ready_but_alive(probe: Probe) -> None:
    probe.polled(assigned=0)
    assert probe.liveness().ok
    assert "no partitions" in probe.readiness().reason


def test_a_loop_that_stopped_polling_is_neither_alive_nor_ready(probe: Probe, clock: Clock) -> None:
    probe.polled(assigned=2)
    clock.now += 31
    assert not probe.liveness().ok
    assert not probe.readiness().ok


def test_waiting_work_without_a_commit_becomes_stuck(probe: Probe, clock: Clock) -> None:
    probe.polled(assigned=2, waiting=500)
    for _ in range(7):                       # keeps polling (a retrying loader), never commits
        clock.now += 10
        probe.polled(assigned=2, waiting=500)
    verdict = probe.readiness()
    assert probe.liveness().ok               # a restart would not cure a refused batch
    assert not verdict.ok and verdict.reason.startswith("stuck")
    assert verdict.detail["work_waiting_s"] == 70.0


def test_a_commit_clears_the_wait(probe: Probe, clock: Clock) -> None:
    probe.polled(assigned=2, waiting=500)
    clock.now += 50
    probe.progressed()
    clock.now += 50
    probe.polled(assigned=2, waiting=100)    # the next batch starts its own wait
    assert probe.readiness().ok


def test_an_idle_topic_is_never_stuck(probe: Probe, clock: Clock) -> None:
    for _ in range(20):
        clock.now += 10
        probe.polled(assigned=6, waiting=0)
    assert probe.readiness().ok


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_server_answers_each_probe_with_its_status_and_reason(probe: Probe) -> None:
    server = serve(probe, 0, host="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        status, body = _get(base + "/readyz")
        assert status == 503 and json.loads(body)["reason"] == "starting: no poll yet"
        probe.polled(assigned=1)
        status, body = _get(base + "/readyz")
        assert status == 200 and json.loads(body) == {
            "ok": True, "reason": "consuming", "since_last_poll_s": 0.0, "assigned_partitions": 1}
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/metrics")
        assert status == 200 and b"# HELP" in body   # the Prometheus text format
        assert _get(base + "/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_limits_come_from_the_charts_environment() -> None:
    probe = Probe.from_env({"PMSYNC_PROBE_ALIVE_S": "15", "PMSYNC_PROBE_STUCK_S": "45"})
    assert (probe.alive_within_s, probe.stuck_after_s) == (15.0, 45.0)
    assert Probe.from_env({}).stuck_after_s == 120.0
