"""The live set of compiled PMS configs a worker uses, fed from the compacted configs topic.

Every worker instance reads the whole configs topic itself (no consumer group: a group would
give the single partition to one instance only), compiles each config once, and swaps it in
atomically. ``ready`` is set once the topic was read to its end at start, so no message is
judged against a config set that is still loading.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from pmsync.config import compile_config, load_config
from pmsync.errors import ConfigError

log = logging.getLogger(__name__)


class ConfigRegistry:
    def __init__(self) -> None:
        self._compiled: dict[str, object] = {}
        self._by_header: dict[tuple[bytes | None, bytes | None], object] = {}
        self.ready = asyncio.Event()
        self.rejected: dict[str, str] = {}

    def get(self, pms_type: str | None, version: str | None):
        """The compiled config for ``pms_type:version``, or None."""
        return self._compiled.get(f"{pms_type}:{version}")

    def for_headers(self, pms_type: bytes | None, version: bytes | None):
        """``get`` for the raw header values, memoised: it runs for every message."""
        found = self._by_header.get((pms_type, version))
        if found is None:
            found = self.get(None if pms_type is None else pms_type.decode("utf-8", "replace"),
                             None if version is None else version.decode("utf-8", "replace"))
            if found is not None:
                self._by_header[(pms_type, version)] = found
        return found

    def keys(self) -> list[str]:
        return sorted(self._compiled)

    def apply(self, key: str, body: bytes | None) -> None:
        """Apply one configs-topic record: a body replaces, a tombstone removes."""
        self._by_header.clear()  # whatever changes below, look-ups start over
        if body is None:
            self._compiled.pop(key, None)
            log.info("config removed", extra={"config": key})
            return
        try:
            compiled = compile_config(load_config(body))
        except ConfigError as exc:
            # A bad config must never replace a good one; it was linted before publishing.
            self.rejected[key] = str(exc)
            log.error("published config rejected", extra={"config": key, "errors": exc.errors})
            return
        if compiled.key != key:
            log.warning("config key does not match its body", extra={"config": key, "body_key": compiled.key})
        previous = self._compiled.get(compiled.key)
        self._compiled[compiled.key] = compiled
        if previous is None or previous.hash != compiled.hash:
            log.info("config loaded", extra={"config": compiled.key, "hash": compiled.hash})


async def follow_configs(registry: ConfigRegistry, bootstrap: str, topic: str,
                         stop: asyncio.Event | None = None) -> None:
    """Read ``topic`` from the beginning, then keep applying new records until ``stop``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while stop is None or not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    registry.apply(record.key.decode() if record.key else "", record.value)
            if not registry.ready.is_set():
                positions = {tp: await consumer.position(tp) for tp in partitions}
                if all(positions[tp] >= end[tp] for tp in partitions):
                    registry.ready.set()
                    log.info("configs loaded", extra={"configs": registry.keys()})
    finally:
        await consumer.stop()
