"""``stage_lag``: never below zero, even while the group commits between the two reads."""

from __future__ import annotations

from kafka.structs import OffsetAndMetadata, TopicPartition

from pmsync.kafka.lag import stage_lag

TP = TopicPartition("pms.raw.v1", 0)


class BusyTopic:
    """A partition being produced to and consumed at the same pace: every read of either
    offset is followed by 10 more messages produced and 10 more committed. Stands for both
    the admin client (committed offsets) and the consumer (end offsets)."""

    def __init__(self, end: int = 100, committed: int = 100) -> None:
        self.end, self.committed = end, committed

    def _advance(self) -> None:
        self.end += 10
        self.committed += 10

    def list_group_offsets(self, group: str) -> dict:
        read = {group: {TP: OffsetAndMetadata(self.committed, "", -1)}}
        self._advance()
        return read

    def end_offsets(self, parts: list) -> dict:
        read = {tp: self.end for tp in parts}
        self._advance()
        return read


def test_a_group_that_commits_between_the_reads_is_never_behind_by_less_than_zero():
    topic = BusyTopic()
    assert stage_lag(topic, topic, "g", [TP]) >= 0


def test_a_group_fully_caught_up_and_idle_has_zero_lag():
    class Idle(BusyTopic):
        def _advance(self) -> None:
            pass

    idle = Idle(end=42, committed=42)
    assert stage_lag(idle, idle, "g", [TP]) == 0


def test_a_committed_offset_past_the_end_counts_as_zero_not_negative():
    # A topic deleted and created again keeps the group's old, higher committed offset.
    class Recreated(BusyTopic):
        def _advance(self) -> None:
            pass

    recreated = Recreated(end=3, committed=500)
    assert stage_lag(recreated, recreated, "g", [TP]) == 0


def test_a_group_that_never_committed_is_behind_by_the_whole_partition():
    class Fresh:
        def list_group_offsets(self, group: str) -> dict:
            return {}

        def end_offsets(self, parts: list) -> dict:
            return {tp: 7 for tp in parts}

    fresh = Fresh()
    assert stage_lag(fresh, fresh, "g", [TP]) == 7
