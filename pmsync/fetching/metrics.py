"""The fetcher's Prometheus metrics, defined once per process on the default registry.

Labels are hotel ids, hosts and outcome words; never a URL query, a header or a credential.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pmsync.fetching.breaker import STATE_VALUE

REQUESTS = Counter("pmsync_fetcher_requests", "HTTP requests to PMSs, by hotel and outcome "
                   "(HTTP status code, timeout, network, malformed, circuit_open)",
                   ["hotel_id", "status"])
RECORDS_PUBLISHED = Counter("pmsync_fetcher_records_published",
                            "Reservations acknowledged by Kafka, by hotel", ["hotel_id"])
SYNCS = Counter("pmsync_fetcher_syncs", "Finished syncs by hotel and outcome (ok, error, host_down: not "
                "started because the hotel's PMS host circuit was open)",
                ["hotel_id", "outcome"])
SYNC_DURATION = Histogram("pmsync_fetcher_sync_duration_seconds",
                          "Wall time of one hotel's full sync (all pages, until acks)", ["hotel_id"],
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
SCHEDULE_LAG = Histogram("pmsync_fetcher_schedule_lag_seconds",
                         "How late each scheduled sync started against its due time (waiting for "
                         "a concurrency slot included)",
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
BREAKER_STATE = Gauge("pmsync_fetcher_circuit_state",
                      "Circuit breaker per PMS host: 0 closed, 1 half-open, 2 open", ["host"])


def breaker_changed(host: str, state: str) -> None:
    BREAKER_STATE.labels(host=host).set(STATE_VALUE[state])
