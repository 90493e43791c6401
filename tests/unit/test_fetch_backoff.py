"""A failing hotel's backoff across syncs: doubling from its poll interval, jittered downwards
only, capped, never more often than its schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from pmsync.fetching.backoff import BackoffPolicy

FAILED_AT = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)   # the fake clock: a fixed instant


def test_each_failed_sync_doubles_the_wait_until_the_cap():
    policy = BackoffPolicy(max_s=600, jitter=0)
    waits = [policy.delay_s(n, 60) for n in range(1, 8)]
    assert waits == [60, 120, 240, 480, 600, 600, 600]


def test_the_next_attempt_is_the_failure_time_plus_the_wait():
    policy = BackoffPolicy(max_s=600, jitter=0)
    assert policy.next_attempt_at(FAILED_AT, 3, 60) == FAILED_AT + timedelta(seconds=240)


def test_jitter_only_shortens_the_wait_so_the_cap_is_a_true_maximum():
    policy = BackoffPolicy(max_s=600, jitter=0.25)
    rng = random.Random(7)
    for failures in range(1, 12):
        plain = BackoffPolicy(max_s=600, jitter=0).delay_s(failures, 60)
        waits = [policy.delay_s(failures, 60, rng) for _ in range(200)]
        assert all(0.75 * plain <= w <= plain for w in waits)
        assert len(set(waits)) > 100   # spread out, so hotels broken together come back apart


def test_a_hotel_polled_less_often_than_the_cap_keeps_its_own_interval():
    policy = BackoffPolicy(max_s=600, jitter=0)
    assert [policy.delay_s(n, 3600) for n in (1, 2, 5)] == [3600, 3600, 3600]


@pytest.mark.parametrize("failures", [0, 10_000])
def test_odd_counts_stay_within_the_interval_and_the_cap(failures):
    policy = BackoffPolicy(max_s=600, jitter=0)
    assert 60 <= policy.delay_s(failures, 60) <= 600
