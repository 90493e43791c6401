"""Serializers for what pmsync puts on Kafka: the canonical booking as Avro (``avro``)."""
