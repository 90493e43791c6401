"""When a hotel whose syncs keep failing is tried again: its backoff across syncs.

Retries inside one sync (``retry.py``) ride out a blip; this is for a hotel that is broken for
longer (its PMS account suspended, its credentials rotated, its PMS down). Polling it on its
normal schedule would spend a concurrency slot and, for a hanging PMS, a full timeout per
attempt, on every cycle. After ``n`` consecutive failed syncs the next one waits

    min(cap, poll_interval × 2^(n-1)) × uniform(1 - jitter, 1),  cap = max(max_s, poll_interval)

so the first failure keeps the normal schedule, each further one doubles the wait, and no
hotel ever waits longer than ``max_s`` (or its own poll interval, if that is longer: a hotel
is never polled more often because it fails). The jitter spreads hotels that broke together
(a vendor outage) so they do not all come back in the same second. The first successful sync
resets the count (``checkpoints.py``), so a hotel recovers on its own.

The schedule is persisted as ``sync_checkpoints.next_attempt_at`` so a restarted fetcher keeps
it. This module is pure arithmetic: no clock, no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

# Default cap: an hour, so a hotel that comes back is synced again within the hour even after
# a long outage, while a dead one costs at most one attempt an hour.
DEFAULT_MAX_S = 3600.0


@dataclass(frozen=True)
class BackoffPolicy:
    max_s: float = DEFAULT_MAX_S
    jitter: float = 0.25

    def delay_s(self, failures: int, poll_interval_s: float,
                rng: random.Random | None = None) -> float:
        """Seconds from a failed sync to the next attempt, after ``failures`` in a row (≥ 1)."""
        cap = max(self.max_s, float(poll_interval_s))
        # The exponent is bounded so a hotel failing for months does not overflow a float.
        raw = min(cap, poll_interval_s * 2.0 ** min(max(failures, 1) - 1, 60))
        return raw * (rng or random).uniform(1.0 - self.jitter, 1.0)

    def next_attempt_at(self, failed_at: datetime, failures: int, poll_interval_s: float,
                        rng: random.Random | None = None) -> datetime:
        return failed_at + timedelta(seconds=self.delay_s(failures, poll_interval_s, rng))
