"""The loader: bookings topic → Postgres, in batches, at-least-once + idempotent = exactly once.

``batch`` (what a batch covers), ``store`` (one batch into one transaction, rejects isolated),
``consume`` (the Kafka loop and the DLQ), ``metrics`` (Prometheus). The SQL lives in
``pmsync.db.bookings``.
"""
