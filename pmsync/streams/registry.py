"""The live set of compiled PMS configs a worker uses, fed from the compacted configs topic,
backed by the validated copies in Postgres.

Every worker instance reads the whole configs topic itself (no consumer group: a group would
give the single partition to one instance only), compiles each config once, and swaps it in
atomically. ``ready`` is set once the topic was read to its end at start, so no message is
judged against a config set that is still loading.

A record that does not compile (an invalid body, or a tombstone: pmsync never sends one) must
never take away a valid config. A running worker simply keeps the one it has. But compaction
keeps only the latest record per key, so a worker that starts after a bad record was
compacted over the good one has nothing to keep: for such a key the registry asks the
fallback (the ``pms_configs`` row, which ``pmsync config publish`` stores, validated, before it
sends to the topic). A tombstone removes a config only when Postgres no longer holds it.

A rejected record is reported as an ERROR log line naming the key and every problem, not as a
DLQ message: every worker instance reads the topic, and again at each start, so a DLQ entry
would come once per instance and restart, and replay (to the raw topic) could not fix it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Counter

from pmsync.config import compile_config, load_config
from pmsync.errors import ConfigError

log = logging.getLogger(__name__)

# The validated body stored for a ``pms_type:version`` key, or None when none is stored.
Fallback = Callable[[str], Awaitable[bytes | None]]

REJECTED = Counter("pmsync_config_records_rejected_total",
                   "Configs-topic records that did not compile (invalid body or tombstone)")
# How long a starting worker waits for Postgres to answer about a config before it starts
# without it (its messages are then dead-lettered as "no PMS config", replayable).
FALLBACK_WAIT_S = 30.0


class ConfigRegistry:
    def __init__(self) -> None:
        self._compiled: dict[str, object] = {}
        self._by_header: dict[tuple[bytes | None, bytes | None], object] = {}
        self.ready = asyncio.Event()
        self.rejected: dict[str, str] = {}
        # Keys whose latest topic record did not compile, to settle against the fallback:
        # key -> True for a tombstone, False for an invalid body.
        self.doubtful: dict[str, bool] = {}

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
        """Apply one configs-topic record: a valid body replaces; anything else is reported
        and left for ``settle`` (with the fallback) to decide."""
        if body is None:
            REJECTED.inc()
            self.doubtful[key] = True
            log.error("tombstone on the configs topic: pmsync never sends one, so the config is kept "
                      "while Postgres still holds it; to retire a config delete its pms_configs row "
                      "first", extra={"config": key})
            return
        try:
            compiled = compile_config(load_config(body))
        except ConfigError as exc:
            # A bad config must never replace a good one; it was linted before publishing.
            REJECTED.inc()
            self.rejected[key] = str(exc)
            self.doubtful[key] = False
            log.error("published config rejected; the last valid one (or the copy in Postgres) "
                      "stays in use: publish a fixed config with `pmsync config publish`",
                      extra={"config": key, "errors": exc.errors})
            return
        if compiled.key != key:
            log.warning("config key does not match its body", extra={"config": key, "body_key": compiled.key})
        self.doubtful.pop(compiled.key, None)
        self._install(compiled)

    def _install(self, compiled) -> None:
        self._by_header.clear()  # look-ups start over
        previous = self._compiled.get(compiled.key)
        self._compiled[compiled.key] = compiled
        if previous is None or previous.hash != compiled.hash:
            log.info("config loaded", extra={"config": compiled.key, "hash": compiled.hash})

    async def settle(self, fallback: Fallback | None) -> bool:
        """Decide each doubtful key against the fallback; True when none is left undecided.
        A key that has a valid config is settled at once, unless its record was a tombstone,
        which is checked against Postgres before anything is removed."""
        for key, tombstone in list(self.doubtful.items()):
            if key in self._compiled and not tombstone:
                del self.doubtful[key]            # keep the last valid config
                continue
            if fallback is None:
                stored = None
            else:
                try:
                    stored = await fallback(key)
                except Exception as exc:  # noqa: BLE001 - Postgres down: try again later
                    log.error("cannot read the stored config; will retry",
                              extra={"config": key, "error_class": type(exc).__name__})
                    continue
            del self.doubtful[key]
            if stored is None:
                if tombstone and self._compiled.pop(key, None) is not None:
                    self._by_header.clear()
                    log.info("config removed", extra={"config": key})
                elif not tombstone:
                    log.error("no valid config for this key: the topic's latest record is invalid "
                              "and Postgres holds none; publish one with `pmsync config publish`",
                              extra={"config": key})
                continue
            if key in self._compiled:
                continue                          # a tombstone, but the config is still stored
            try:
                self._install(compile_config(load_config(stored)))
            except ConfigError as exc:
                log.error("the config stored in Postgres does not compile either",
                          extra={"config": key, "errors": exc.errors})
                continue
            log.warning("config taken from Postgres: the configs topic's latest record for it "
                        "is not a valid config", extra={"config": key})
        return not self.doubtful


async def follow_configs(registry: ConfigRegistry, bootstrap: str, topic: str,
                         stop: asyncio.Event | None = None, fallback: Fallback | None = None) -> None:
    """Read ``topic`` from the beginning, then keep applying new records until ``stop``;
    keys whose latest record does not compile are settled with ``fallback``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    loop = asyncio.get_running_loop()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        read_at: float | None = None   # when the topic was first read to its end
        while stop is None or not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    registry.apply(record.key.decode("utf-8", "replace") if record.key else "", record.value)
            settled = await registry.settle(fallback) if registry.doubtful else True
            if not registry.ready.is_set():
                if read_at is None:
                    positions = {tp: await consumer.position(tp) for tp in partitions}
                    if all(positions[tp] >= end[tp] for tp in partitions):
                        read_at = loop.time()
                if read_at is not None and (settled or loop.time() - read_at > FALLBACK_WAIT_S):
                    registry.ready.set()
                    log.info("configs loaded", extra={"configs": registry.keys()})
    finally:
        await consumer.stop()
