"""The stream worker's loop when Kafka does not take its output: it stays up, reads again what
is not committed, and commits only once everything was acknowledged. One module (worker.py)
on an in-memory consumer and broker; the real clients are covered by the integration tests
and the broker-outage fault scenario."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from aiokafka.producer.message_accumulator import BatchBuilder

from pmsync.settings import Settings
from pmsync.streams import worker as worker_module
from pmsync.streams.steps import Routed
from pmsync.streams.worker import StreamWorker, WorkerSpec

SOURCE = TopicPartition("raw", 0)


class Broker:
    """What the fake producers deliver to; refuses the first ``refuse`` sends."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.delivered: list[int] = []      # record count of each accepted batch
        self.producers = 0


class FakeProducer:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        broker.producers += 1

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(256 * 1024, 0)

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    async def send_batch(self, builder: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future:
        ack = asyncio.get_running_loop().create_future()
        if self.broker.refuse:
            self.broker.refuse -= 1
            ack.set_exception(KafkaTimeoutError("batch expired while the broker was down"))
        else:
            self.broker.delivered.append(builder.record_count())
            ack.set_result(None)
        return ack


class FakeConsumer:
    """One partition of ``count`` messages; remembers its position and committed offset."""

    def __init__(self, count: int) -> None:
        self.log = [SimpleNamespace(key=b"h", value=b"{}", headers=[], topic=SOURCE.topic,
                                    partition=0, offset=i) for i in range(count)]
        self.position = 0
        self.committed_offset: int | None = None
        self.rewinds = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {SOURCE}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offset

    async def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.rewinds += 1
        self.position = 0

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.rewinds += 1
        self.position = offset

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        batch = self.log[self.position:self.position + max_records]
        if not batch:
            await asyncio.sleep(0.01)
            return {}
        self.position += len(batch)
        return {SOURCE: batch}

    async def commit(self, offsets: dict) -> None:
        self.committed_offset = offsets[SOURCE]


class InMemoryWorker(StreamWorker):
    def __init__(self, consumer: FakeConsumer, broker: Broker) -> None:
        passthrough = lambda registry, message: Routed(True, message.value, message.headers)  # noqa: E731
        super().__init__(Settings.from_env(), WorkerSpec("validator", "raw", "validated", passthrough),
                         max_batch=3)
        self.fake_consumer, self.broker = consumer, broker

    def _consumer(self):
        return self.fake_consumer

    def _producer(self):
        return FakeProducer(self.broker)

    def _follow_configs(self) -> asyncio.Task:
        self.registry.ready.set()
        return asyncio.create_task(self.stop.wait())


async def run_until(worker: InMemoryWorker, done) -> None:
    task = asyncio.create_task(worker.run())
    for _ in range(500):
        if done() or task.done():
            break
        await asyncio.sleep(0.01)
    worker.stop.set()
    await task   # re-raises what ended the loop


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(worker_module, "RETRY_BACKOFF_S", 0.01)


def test_a_refused_send_is_read_again_and_committed_once_acknowledged():
    consumer, broker = FakeConsumer(7), Broker(refuse=1)
    worker = InMemoryWorker(consumer, broker)
    asyncio.run(run_until(worker, lambda: consumer.committed_offset == 7))
    assert consumer.committed_offset == 7
    assert consumer.rewinds >= 1 and broker.producers >= 2      # read again, on a new producer
    assert sum(broker.delivered) >= 7                            # everything, at least once


def test_nothing_is_committed_while_the_broker_refuses_everything():
    consumer, broker = FakeConsumer(4), Broker(refuse=10_000)
    worker = InMemoryWorker(consumer, broker)
    asyncio.run(run_until(worker, lambda: broker.producers >= 5))
    assert consumer.committed_offset is None and broker.delivered == []
