"""The producer of one-off sends that must reach every replica: DLQ replay and config publish.

Both run in a CLI command or an admin API request, send a few messages and wait for the
broker's acknowledgement before they report success (and before replay marks rows replayed),
so the producer is idempotent with ``acks=all``. kafka-python (not aiokafka) because the
callers are synchronous. How long to wait for a broker that does not answer is the caller's:
a CLI command can wait the client's default 30 s, an API request should answer 503 sooner.
"""

from __future__ import annotations

from kafka import KafkaProducer

from pmsync.settings import Settings

DEFAULT_BOOTSTRAP_TIMEOUT_S = 30.0


def acked_producer(settings: Settings, client_id: str, *,
                   bootstrap_timeout_s: float = DEFAULT_BOOTSTRAP_TIMEOUT_S) -> KafkaProducer:
    """Raises kafka.errors.KafkaTimeoutError when no broker answers within the timeout."""
    return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                         enable_idempotence=True, client_id=client_id,
                         bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000))
