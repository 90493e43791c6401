"""``acked_producer``: the one-off sends (DLQ replay, config publish) reach the broker, and a
broker that does not answer fails within the caller's wait, not kafka-python's 30 s."""

from __future__ import annotations

import dataclasses

import pytest
from kafka import KafkaConsumer
from kafka.errors import KafkaTimeoutError

from pmsync.kafka.acked import acked_producer
from tests.ports import unused_port

pytestmark = pytest.mark.integration


def test_a_send_is_acknowledged_and_readable(settings, topics):
    producer = acked_producer(settings, "pmsync-test")
    try:
        metadata = producer.send(topics.configs, key=b"k", value=b"v").get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(topics.configs, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    try:
        read = [(m.partition, m.offset, m.key, m.value) for m in consumer]
    finally:
        consumer.close()
    assert read == [(metadata.partition, metadata.offset, b"k", b"v")]


def test_no_broker_raises_after_the_callers_wait(settings):
    down = dataclasses.replace(settings, kafka_bootstrap=f"127.0.0.1:{unused_port()}")
    with pytest.raises(KafkaTimeoutError):
        acked_producer(down, "pmsync-test", bootstrap_timeout_s=0.5)
