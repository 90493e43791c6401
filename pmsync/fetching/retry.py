"""When a failed PMS request is tried again, and after how long.

Exponential backoff with jitter (tenacity) for network errors, timeouts, 5xx and unreadable
bodies; a 429/503 ``Retry-After`` is honoured as the wait instead, and if it asks for longer
than ``max_retry_after_s`` the sync gives up and the hotel's next scheduled poll tries again,
rather than holding a concurrency slot for minutes. Other 4xx answers are never retried: the
request itself (credentials, property id) is wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from pmsync.errors import PMSConnectionError

T = TypeVar("T")


class RetryableError(PMSConnectionError):
    """A failure worth another try: network, timeout, 408/429/5xx, malformed body."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 20.0
    jitter_s: float = 0.5
    max_retry_after_s: float = 60.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableError)


class _Wait:
    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = wait_exponential_jitter(multiplier=policy.backoff_initial_s,
                                               max=policy.backoff_max_s, jitter=policy.jitter_s)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return float(self.backoff(state))


def _stop(policy: RetryPolicy) -> Callable[[RetryCallState], bool]:
    attempts = stop_after_attempt(policy.attempts)

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and retry_after > policy.max_retry_after_s:
            return True
        return attempts(state)

    return stop


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy,
                       sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> T:
    """``await call()`` until it succeeds, raises a non-retryable error, or the policy gives up;
    the last error is re-raised as it was."""
    retrying = AsyncRetrying(stop=_stop(policy), wait=_Wait(policy),
                             retry=retry_if_exception(_is_retryable), reraise=True, sleep=sleep)

    # tenacity awaits only what it recognises as a coroutine function; a lambda returning a
    # coroutine would be "called" without ever running, so wrap it in one.
    async def attempt() -> T:
        return await call()

    return await retrying(attempt)
