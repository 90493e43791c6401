"""The stream worker runtime: consume a batch, run one domain step per message, send each
result on (next topic or DLQ), wait for every send's acknowledgement, then commit.

Why aiokafka and not faust-streaming: measured on this 2-core machine with the same 100k
messages (bench/stream_runtime.py), a faust agent relaying raw bytes did ≈ 2.8k msg/s, and
even a consume-only faust agent with ``take()`` ≈ 10k msg/s, while this loop over aiokafka
relayed ≈ 43k msg/s. faust's per-event machinery, not Kafka, was the limit. The shape stays
faust's: a worker is a small function (``step``) over a stream; the loop routes its result.

Delivery: offsets are committed only after every message of the batch was acknowledged by
the broker on its next topic or the DLQ (acks=all, idempotent producer), in batch order; one
batch may wait for its acks while the next is processed. A crash replays the
uncommitted batch: at-least-once, and the loader's idempotent upsert makes it exactly-once in
Postgres. A step never raises for bad input; if it raises anyway (a bug), the message goes to
the DLQ as an internal error rather than stopping the worker. A result too large for its
next topic (read from a topic that allows larger messages) goes to the DLQ instead, and a
reject too large for the DLQ goes there as a bounded preview (``pmsync.kafka.limits``): the
broker would refuse either on every attempt, and the worker would stop on that offset.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter, Histogram

from pmsync.compiled import log_status
from pmsync.config_store import stored_config
from pmsync.errors import PMSDataValidationError, PMSError, PMSInternalError
from pmsync.kafka import headers as h
from pmsync.kafka.consumers import BATCH_FETCH
from pmsync.kafka.dlq import dlq_headers
from pmsync.kafka.limits import MAX_RECORD_BYTES, record_bytes, shrink, too_large_error
from pmsync.probes import Probe, serve as serve_probes
from pmsync.runtime import tune_for_batches
from pmsync.settings import Settings
from pmsync.streams.registry import ConfigRegistry, follow_configs
from pmsync.streams.steps import Message, Routed

log = logging.getLogger(__name__)

PROCESSED = Counter("pmsync_stream_messages_total", "Messages handled by a stream worker",
                    ["worker", "outcome"])
REJECTED = Counter("pmsync_stream_rejects_total", "Messages sent to the DLQ", ["worker", "stage"])
BATCH_SECONDS = Histogram("pmsync_stream_batch_seconds", "Consume-to-commit time of a batch", ["worker"])

Step = Callable[[ConfigRegistry, Message], Routed]
# Between two tries after Kafka did not take the worker's output.
RETRY_BACKOFF_S, RETRY_BACKOFF_MAX_S = 0.5, 30.0
_PARTITIONER = DefaultPartitioner()


@dataclass(frozen=True)
class WorkerSpec:
    role: str            # "validator", "mapper": names the consumer group and the metrics
    source: str          # topic consumed
    ok: str              # topic a passing message goes to
    step: Step
    # The error (so the stage) of a result too large for ``ok``: what the fetcher reports for
    # a raw record too large to publish, schema, unless a stage says otherwise.
    too_large_as: type[PMSError] = PMSDataValidationError


class StreamWorker:
    def __init__(self, settings: Settings, spec: WorkerSpec, max_batch: int = 2000,
                 probe: Probe | None = None) -> None:
        self.settings = settings
        self.probe = probe or Probe.from_env()
        self.spec = spec
        self.max_batch = max_batch
        self.registry = ConfigRegistry()
        self.stop = asyncio.Event()
        self._partitions = _Partitions()
        self._ok_count = PROCESSED.labels(spec.role, "ok")   # bound once: labels() per message costs

    async def run(self) -> None:
        follower = self._follow_configs()
        consumer = self._consumer()
        producer: AIOKafkaProducer | None = None
        acked: asyncio.Task | None = None   # the previous batch, waiting for its acks
        await consumer.start()
        try:
            await self._wait_for_configs(follower)
            log.info("worker started", extra={"worker": self.spec.role, "source": self.spec.source,
                                              "configs": self.registry.keys()})
            failures = 0
            while not self.stop.is_set():
                try:
                    if acked is not None and acked.done():
                        done, acked = acked, None
                        done.result()   # a batch whose acks failed is retried now, not at the next batch
                    if producer is None:
                        producer = self._producer()
                        await producer.start()
                    if failures:
                        await self._rewind(consumer)
                    batch = await consumer.getmany(timeout_ms=500, max_records=self.max_batch)
                    self.probe.polled(len(consumer.assignment()), sum(map(len, batch.values())))
                    if batch:
                        started = time.perf_counter()
                        sent, offsets = await self._handle(batch, producer)
                        if acked is not None:
                            await acked  # commits stay in batch order
                        acked = asyncio.create_task(self._commit_when_acked(sent, offsets, consumer, started))
                    failures = 0
                except KafkaError as exc:
                    # The broker did not take a send (an outage longer than the producer's
                    # timeout, say). Nothing after the last commit counts as done: drop it, start
                    # a new producer (a clean idempotence sequence) and read it again. At least
                    # once, like a restart, but without one.
                    failures += 1
                    # The loop still turns (alive) but what it read waits uncommitted (not ready).
                    self.probe.polled(len(consumer.assignment()), waiting=1)
                    acked = await _abandon(acked)
                    producer = await _close(producer)
                    delay = min(RETRY_BACKOFF_MAX_S, RETRY_BACKOFF_S * 2 ** (failures - 1))
                    log.error("kafka did not take the worker's output; what is not committed is read "
                              "again", extra={"worker": self.spec.role, "error_class": type(exc).__name__,
                                              "error": str(exc)[:300], "attempt": failures,
                                              "retry_in_s": delay})
                    try:
                        await asyncio.wait_for(self.stop.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
        finally:
            self.stop.set()
            if acked is not None:
                await asyncio.gather(acked, return_exceptions=True)
            await consumer.stop()
            await _close(producer)
            await asyncio.gather(follower, return_exceptions=True)
            log.info("worker stopped", extra={"worker": self.spec.role})

    # The three Kafka clients, one method each so a test can run the loop on others.
    def _follow_configs(self) -> asyncio.Task:
        return asyncio.create_task(follow_configs(self.registry, self.settings.kafka_bootstrap,
                                                  self.settings.topics.configs, self.stop,
                                                  fallback=self._stored_config))

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            self.spec.source, bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.group_id(self.spec.role), client_id=f"pmsync-{self.spec.role}",
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=self.max_batch,
            **BATCH_FETCH)

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5,
                                max_batch_size=256 * 1024, client_id=f"pmsync-{self.spec.role}")

    async def _rewind(self, consumer: AIOKafkaConsumer) -> None:
        """Back to the committed offset of every partition this instance holds."""
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)   # auto_offset_reset=earliest, as at start
            else:
                consumer.seek(tp, committed)

    async def _stored_config(self, key: str) -> bytes | None:
        """The validated copy in Postgres, for a key whose configs-topic record is not valid."""
        return await asyncio.to_thread(stored_config, self.settings.database_url, key)

    async def _wait_for_configs(self, follower: asyncio.Task) -> None:
        ready = asyncio.create_task(self.registry.ready.wait())
        await asyncio.wait({ready, follower}, return_when=asyncio.FIRST_COMPLETED)
        if follower.done():
            ready.cancel()
            follower.result()  # surfaces why the configs topic could not be read

    async def _handle(self, batch, producer: AIOKafkaProducer) -> tuple[list[asyncio.Future], dict]:
        """Run the step on every message and hand the results to the producer; returns the
        sends to wait for and the offsets to commit once they are acknowledged."""
        ok_topic, passed = self.spec.ok, 0
        await self._partitions.refresh(producer, (ok_topic, self.settings.topics.dlq))
        out = _Outbox(producer, self._partitions)
        offsets = {}
        for tp, records in batch.items():
            for record in records:
                message = Message(record.key, record.value, list(record.headers or ()),
                                  record.topic, record.partition, record.offset)
                # Key and value only, so no loop over every message's headers; a message large
                # by its headers is caught when its output is added below.
                size = len(record.key or b"") + len(record.value or b"")
                if size > MAX_RECORD_BYTES:
                    # Larger than anything pmsync sends: another producer wrote it to a topic that
                    # takes larger messages. Judged like the same record would be on the raw topic.
                    routed = self._too_large(message, size, f"this message on {record.topic}")
                else:
                    routed = self._run_step(message)
                    if routed.ok:
                        if out.add(ok_topic, record.key, routed.value, routed.headers):
                            passed += 1
                            continue
                        # Kept as a guard: an output that grew past the limit (none does today).
                        routed = self._too_large(message, record_bytes(record.key, routed.value, routed.headers),
                                                 f"the {self.spec.role}'s output for this message")
                dlq_topic = self._rejected(routed)
                if not out.add(dlq_topic, record.key, routed.value or b"", routed.headers):
                    value, headers = shrink(routed.value, routed.headers)
                    if not out.add(dlq_topic, record.key, value, headers):
                        raise AssertionError("a shrunk dead letter must fit")  # limits.py's promise
            offsets[tp] = records[-1].offset + 1
        self._ok_count.inc(passed)  # once per batch: a metric update takes a lock
        return await out.send(), offsets

    async def _commit_when_acked(self, sent: list[asyncio.Future], offsets: dict,
                                 consumer: AIOKafkaConsumer, started: float) -> None:
        # Every result acknowledged before any offset moves: nothing is lost on a crash. The
        # next batch is fetched and run meanwhile, so the CPU does not idle while acks travel.
        await asyncio.gather(*sent)
        try:
            await consumer.commit(offsets)
            self.probe.progressed()
        except (CommitFailedError, KafkaError) as exc:
            # The partitions moved to another instance, which re-reads this batch.
            log.warning("commit failed; batch will be re-read", extra={"worker": self.spec.role,
                                                                      "error": type(exc).__name__})
        BATCH_SECONDS.labels(self.spec.role).observe(time.perf_counter() - started)

    def _run_step(self, message: Message) -> Routed:
        try:
            return self.spec.step(self.registry, message)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the worker or lose the message
            log.exception("step raised", extra={"worker": self.spec.role})
            error = PMSInternalError(f"{self.spec.role} failed unexpectedly: {type(exc).__name__}: {exc}"[:500])
            return Routed(False, message.value, dlq_headers(error, message.position, original=message.headers),
                          error)

    def _too_large(self, message: Message, size: int, what: str) -> Routed:
        """The reject of a message too large to forward, with the original bytes (the DLQ
        send shrinks them if they do not fit either)."""
        error = too_large_error(size, self.spec.too_large_as, what=what)
        found = dict(message.headers)
        compiled = self.registry.for_headers(found.get(h.PMS_TYPE), found.get(h.PMS_VERSION))
        return Routed(False, message.value,
                      dlq_headers(error, message.position, original=message.headers,
                                  config_key=getattr(compiled, "key", None),
                                  config_hash=getattr(compiled, "hash", None)),
                      error, h.text(found, h.HOTEL_ID))

    def _rejected(self, routed: Routed) -> str:
        """Metrics and log line for one reject; returns the DLQ topic."""
        stage = routed.error.stage if routed.error else "unknown"
        PROCESSED.labels(self.spec.role, "rejected").inc()
        REJECTED.labels(self.spec.role, stage).inc()
        log.info("message rejected", extra={
            "worker": self.spec.role, "hotel_id": routed.hotel_id, "stage": stage,
            "error_class": type(routed.error).__name__, "reason": routed.error.message if routed.error else ""})
        return self.settings.topics.dlq


def _seen(ack: asyncio.Future) -> None:
    if not ack.cancelled():
        ack.exception()


async def _abandon(acked: asyncio.Task | None) -> None:
    """Stop waiting for a batch's acks; its offsets are not committed, so it is read again."""
    if acked is not None:
        acked.cancel()
        await asyncio.gather(acked, return_exceptions=True)
    return None


async def _close(producer: AIOKafkaProducer | None) -> None:
    """Stop a producer; one that cannot flush within its timeout is given up (what it held is
    uncommitted, so it is read and sent again)."""
    if producer is not None:
        try:
            await producer.stop()
        except (KafkaError, asyncio.TimeoutError) as exc:
            log.warning("producer did not stop cleanly", extra={"error_class": type(exc).__name__})
    return None


class _Partitions:
    """The default partitioner's choice per topic and key (murmur2 of the key, as Java clients
    and ``send`` do), cached per key so a hotel's messages keep landing in one partition, in
    order. ``refresh`` once per batch keeps the partition lists current without an await per
    message; a topic whose partitions changed starts its key cache over."""

    def __init__(self) -> None:
        self.known: dict[str, list[int]] = {}
        self.by_key: dict[str, dict[bytes | None, int]] = {}

    async def refresh(self, producer: AIOKafkaProducer, topics: tuple[str, ...]) -> None:
        for topic in topics:
            available = sorted(await producer.partitions_for(topic))
            if available != self.known.get(topic):
                self.known[topic], self.by_key[topic] = available, {}

    def __call__(self, topic: str, key: bytes | None) -> int:
        cache = self.by_key[topic]
        partition = cache.get(key)
        if partition is None:
            available = self.known[topic]
            partition = cache[key] = _PARTITIONER(key, available, available)
        return partition


class _Outbox:
    """One batch's outgoing messages, appended to Kafka record batches per topic-partition.

    Why not ``producer.send`` per message: aiokafka's per-message path (a future each, the
    pure-Python murmur2 partitioner on every key) cost more than the domain step itself. And
    ``add`` does not await: a coroutine per message was a tenth of the validator's time.
    """

    def __init__(self, producer: AIOKafkaProducer, partition_of: _Partitions) -> None:
        self.producer = producer
        self.partition_of = partition_of
        self.open: dict[tuple[str, int], object] = {}
        self.full: list[tuple[str, int, object]] = []   # in the order they filled up

    def add(self, topic: str, key: bytes | None, value: bytes, headers: list) -> bool:
        """Append one message; False (and nothing appended) when it is larger than
        ``MAX_RECORD_BYTES``, which the broker would refuse on every attempt."""
        partition = self.partition_of(topic, key)
        builder = self.open.get((topic, partition))
        if builder is None:
            builder = self.open[(topic, partition)] = self.producer.create_batch()
        added = builder.append(key=key, value=value, timestamp=None, headers=headers)
        if added is None:
            # Full: keep it for send(), start another (an empty batch takes any one message).
            self.full.append((topic, partition, builder))
            builder = self.open[(topic, partition)] = self.producer.create_batch()
            added = builder.append(key=key, value=value, timestamp=None, headers=headers)
        if added.size > MAX_RECORD_BYTES:
            # Checked after the append, where the size is known for free: a message this large
            # exceeds a batch (256 KiB), so it is alone in a new one, which is dropped unsent.
            if builder.record_count() != 1:
                raise AssertionError("an oversized message shares its batch; max_batch_size "
                                     "must stay below MAX_RECORD_BYTES")
            del self.open[(topic, partition)]   # never send an empty batch
            return False
        return True

    async def send(self) -> list[asyncio.Future]:
        """Hand every batch to the producer, a partition's in the order they were filled; the
        futures resolve on the broker's ack."""
        batches = self.full + [(topic, partition, b) for (topic, partition), b in self.open.items()]
        self.full, self.open = [], {}
        acks = [await self.producer.send_batch(builder, topic, partition=partition)
                for topic, partition, builder in batches]
        for ack in acks:
            # Marks a failure as seen: acks of an abandoned batch (the broker refused an earlier
            # one) are never awaited, and asyncio would log each as never retrieved. Awaiting
            # one still raises.
            ack.add_done_callback(_seen)
        return acks


def run_worker(settings: Settings, spec: WorkerSpec, metrics_port: int | None = None) -> None:
    """Run one worker in this process until SIGTERM/SIGINT; the current batch finishes first."""
    probe = Probe.from_env()
    if metrics_port:
        serve_probes(probe, metrics_port)   # /healthz, /readyz and /metrics on one port
    log_status(log)
    tune_for_batches()

    async def main() -> None:
        worker = StreamWorker(settings, spec, probe=probe)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop.set)
        await worker.run()

    asyncio.run(main())


