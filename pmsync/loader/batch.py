"""A loader batch: the consumed messages plus exactly which offsets they cover.

The batch, not the consumer, says what may be committed: ``batch.next_offsets()`` is the
position after the last message of each partition in it, and it is committed only once the
batch is in the database. This module holds no Kafka client and never commits anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from pmsync.kafka.dlq import SourcePosition
from pmsync.kafka.headers import Headers


class Message(NamedTuple):
    """One consumed Kafka message, independent of the client library that read it (a tuple:
    one is built per message, and a frozen dataclass costs several times more to build)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers | tuple = ()

    @property
    def position(self) -> SourcePosition:
        return SourcePosition(self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class PartitionRange:
    topic: str
    partition: int
    first: int
    last: int


@dataclass(frozen=True)
class Batch:
    """Messages in consumption order (offset order within each partition)."""

    messages: tuple[Message, ...]

    @classmethod
    def of(cls, messages: list[Message] | tuple[Message, ...]) -> "Batch":
        return cls(tuple(messages))

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def ranges(self) -> list[PartitionRange]:
        """First and last offset per topic-partition, sorted by topic and partition."""
        spans: dict[tuple[str, int], list[int]] = {}
        for m in self.messages:
            span = spans.setdefault((m.topic, m.partition), [m.offset, m.offset])
            span[0] = min(span[0], m.offset)
            span[1] = max(span[1], m.offset)
        return [PartitionRange(t, p, first, last) for (t, p), (first, last) in sorted(spans.items())]

    def next_offsets(self) -> dict[tuple[str, int], int]:
        """What to commit once this batch is stored: Kafka's committed offset is the next to read."""
        return {(r.topic, r.partition): r.last + 1 for r in self.ranges}
