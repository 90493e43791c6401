"""Consumer lag of the pipeline's groups: how many messages each stage has not committed yet.
``pmsync demo``, the end-to-end tests and the pipeline benchmark wait on it to know a pass is done."""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from pmsync.settings import Settings


def pipeline_stages(settings: Settings) -> list[tuple[str, str]]:
    """(consumer group, topic) of every stage after the fetcher."""
    t = settings.topics
    return [(settings.group_id("validator"), t.raw), (settings.group_id("mapper"), t.validated),
            (settings.group_id("loader"), t.bookings), (settings.group_id("dlq-sink"), t.dlq)]


def lag(settings: Settings, stages: list[tuple[str, str]] | None = None) -> dict[str, int]:
    """Uncommitted messages per group (end offset minus committed offset, summed over partitions)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="pmsync-lag")
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="pmsync-lag",
                             enable_auto_commit=False)  # it only reads offsets
    try:
        out = {}
        for group, topic in stages or pipeline_stages(settings):
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            ends = consumer.end_offsets(parts) if parts else {}
            committed = admin.list_group_offsets(group).get(group, {})  # {group: {tp: offset}}
            total = 0
            for tp in parts:
                done = committed.get(tp)
                total += ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
            out[group] = total
        return out
    finally:
        admin.close()
        consumer.close()
