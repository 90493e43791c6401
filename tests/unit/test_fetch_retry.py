"""Retries: exponential backoff with jitter, Retry-After honoured, hopeless errors not retried."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from pmsync.errors import PMSConnectionError
from pmsync.fetching.retry import RetryableError, RetryPolicy, parse_retry_after, with_retries


class Script:
    """A call that fails with the given errors in turn, then returns "ok"; waits are recorded."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.waits: list[float] = []

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def _run(script: Script, policy: RetryPolicy) -> str:
    return asyncio.run(with_retries(script, policy, script.sleep))


def test_transient_failures_are_retried_with_growing_jittered_waits():
    policy = RetryPolicy(attempts=4, backoff_initial_s=1.0, backoff_max_s=100.0, jitter_s=0.5)
    script = Script(RetryableError("503"), RetryableError("503"), RetryableError("timeout"))
    assert _run(script, policy) == "ok"
    assert script.calls == 4
    # wait n is initial * 2**n plus up to `jitter` seconds of noise.
    for n, wait in enumerate(script.waits):
        assert 2 ** n <= wait <= 2 ** n + 0.5


def test_backoff_is_capped():
    policy = RetryPolicy(attempts=6, backoff_initial_s=1.0, backoff_max_s=3.0, jitter_s=0.0)
    script = Script(*[RetryableError("x") for _ in range(5)])
    _run(script, policy)
    assert script.waits == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_the_last_error_is_raised_when_attempts_run_out():
    script = Script(RetryableError("first"), RetryableError("second"), RetryableError("third"))
    with pytest.raises(RetryableError, match="third"):
        _run(script, RetryPolicy(attempts=3, backoff_initial_s=0.01, jitter_s=0))
    assert script.calls == 3


def test_retry_after_is_the_wait_instead_of_the_backoff():
    script = Script(RetryableError("429", retry_after=7.0))
    assert _run(script, RetryPolicy(backoff_initial_s=0.01, jitter_s=0)) == "ok"
    assert script.waits == [7.0]


def test_a_retry_after_longer_than_allowed_gives_up_for_this_sync():
    script = Script(RetryableError("429", retry_after=3600.0))
    with pytest.raises(RetryableError):
        _run(script, RetryPolicy(max_retry_after_s=60))
    assert script.calls == 1 and script.waits == []


def test_a_non_retryable_error_is_raised_at_once():
    script = Script(PMSConnectionError("HTTP 401"))
    with pytest.raises(PMSConnectionError, match="401"):
        _run(script, RetryPolicy())
    assert script.calls == 1


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 25 Nov 2026 16:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 25 Nov 2026 15:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
