"""Kafka: topic specs, client settings, headers, and the DLQ message shape."""
