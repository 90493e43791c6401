"""The loader's Prometheus metrics (process-wide, default registry).

Labels are fixed, small sets (never a hotel id or booking id: unbounded label values would
blow up the time-series count).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BOOKINGS = Counter("pmsync_loader_bookings_total",
                   "Bookings consumed by the loader, by what happened to them",
                   ["outcome"])  # written | stale | superseded | rejected
ROOMS_UPSERTED = Counter("pmsync_loader_rooms_upserted_total", "Room rows inserted or updated")
BATCHES = Counter("pmsync_loader_batches_total", "Batches stored and committed")
BATCH_SECONDS = Histogram("pmsync_loader_batch_seconds",
                          "Time to store one batch (decode + upsert + DLQ + offset commit)",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
DLQ = Counter("pmsync_loader_dlq_total", "Messages the loader sent to the DLQ")
RETRIES = Counter("pmsync_loader_batch_retries_total",
                  "Batch attempts that failed for a reason other than a row (e.g. database down)")
