"""Consumer lag of the pipeline's groups: how many messages each stage has not committed yet.
``pmsync demo``, the end-to-end tests and the pipeline benchmark wait on it to know a pass is done.

Never report a negative lag: callers wait for "every stage is at 0", and a stage read at -3
while it still has work would look done.
"""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from pmsync.settings import Settings


def pipeline_stages(settings: Settings) -> list[tuple[str, str]]:
    """(consumer group, topic) of every stage after the fetcher."""
    t = settings.topics
    return [(settings.group_id("validator"), t.raw), (settings.group_id("mapper"), t.validated),
            (settings.group_id("loader"), t.bookings), (settings.group_id("dlq-sink"), t.dlq)]


def stage_lag(admin, consumer, group: str, parts: list[TopicPartition]) -> int:
    """Uncommitted messages of ``group`` on ``parts`` (end offset minus committed, summed).

    Committed offsets are read before end offsets: both only grow, so an end offset read
    later is at least the committed one read earlier. Read the other way round, a group that
    committed between the two reads showed less than zero.
    """
    committed = admin.list_group_offsets(group).get(group, {})  # {group: {tp: offset}}
    ends = consumer.end_offsets(parts) if parts else {}
    total = 0
    for tp in parts:
        done = committed.get(tp)
        behind = ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
        # Still clamped: a topic deleted and created again under the same name has end
        # offsets below what the group committed on the old one.
        total += max(0, behind)
    return total


def lag(settings: Settings, stages: list[tuple[str, str]] | None = None) -> dict[str, int]:
    """Uncommitted messages per group (end offset minus committed offset, summed over partitions)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="pmsync-lag")
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="pmsync-lag",
                             enable_auto_commit=False)  # it only reads offsets
    try:
        out = {}
        for group, topic in stages or pipeline_stages(settings):
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            out[group] = stage_lag(admin, consumer, group, parts)
        return out
    finally:
        admin.close()
        consumer.close()
