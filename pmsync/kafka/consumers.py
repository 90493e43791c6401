"""Consumer settings shared by the pipeline's batch consumers (stream workers and loader)."""

from __future__ import annotations

from typing import Final

# A consumer that keeps up with its producer would otherwise fetch whatever arrived since its
# last fetch: a few messages per request, each paying a request's fixed cost in the client and
# in the broker. Waiting for 128 KiB (hundreds of messages) or 100 ms, whichever comes first,
# costs a quiet topic at most 100 ms of latency per hop.
BATCH_FETCH: Final = {"fetch_min_bytes": 128 * 1024, "fetch_max_wait_ms": 100}
