"""Repeated warnings and errors are rate-limited: the first at once, then one line per
interval that says how many were held back. Driven by a fake clock."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pmsync.logs import RepeatLimit, setup_logging
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def captured(clock):
    """A logger whose lines pass through a RepeatLimit on the fake clock."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatLimit(5.0, clock=clock))
    logger = logging.getLogger("test.repeat")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, lambda: stream.getvalue().splitlines()
    logger.handlers[:] = []


def test_a_broker_outage_logs_a_few_lines_not_one_per_retry(captured, clock):
    logger, lines = captured
    for _ in range(370):                      # 37 s of an error every 100 ms
        logger.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
        clock.now += 0.1
    out = lines()
    assert len(out) == 8                       # at 0 s, then one every 5 s
    assert out[0] == "Unable connect to node with id 1: Connect call failed"
    assert out[1] == "Unable connect to node with id 1: Connect call failed (49 more like this in the last 5.0 s)"


def test_the_first_of_each_kind_shows_at_once(captured, clock):
    logger, lines = captured
    logger.error("cannot reach %s", "kafka")
    logger.error("cannot reach %s", "kafka")   # held back
    logger.warning("cannot reach %s", "kafka")  # another level is another kind
    logger.error("database down")
    assert lines() == ["cannot reach kafka", "cannot reach kafka", "database down"]


def test_info_and_debug_are_never_held_back(captured, clock):
    logger, lines = captured
    for i in range(5):
        logger.info("message rejected %d", i)
    assert len(lines()) == 5


def test_the_count_of_held_back_lines_rides_on_the_record_for_json_logs(clock):
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
    limit = RepeatLimit(5.0, clock=clock)
    assert limit.filter(record)
    for _ in range(3):
        clock.now += 1
        assert not limit.filter(logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None))
    clock.now += 3
    later = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
    assert limit.filter(later)
    assert (later.repeated, later.repeated_over_s) == (3, 6.0)
    assert later.getMessage() == "boom (3 more like this in the last 6.0 s)"


def test_setup_logging_installs_the_limit_on_every_service(capsys):
    setup_logging("INFO", service="validator")
    logger = logging.getLogger("aiokafka")
    for _ in range(50):
        logger.error("Unable connect to %r: %s", "127.0.0.1:1", "refused")
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(records) == 1 and records[0]["level"] == "ERROR" and records[0]["service"] == "validator"
