"""The fetcher service: every active hotel on its own schedule, a bounded number at a time.

``Fetcher.run_once`` runs one sync of each (or the named) active hotels and returns when all
are done, for tests and ``pmsync demo``; ``Fetcher.run_forever`` re-reads the registry every
``registry_refresh_s`` (new hotels start, disabled ones stop) and polls each hotel every
``poll_interval_s`` with jitter, until asked to stop. Each hotel runs in its own task behind
one semaphore, so a slow or broken hotel holds at most one slot and never delays the others'
schedules. A hotel whose config or credentials cannot be resolved fails its own sync (recorded
in ``sync_checkpoints``) and nothing else.

A hotel whose syncs keep failing backs off across syncs (``backoff.py``): the wait after a
failed sync is the one ``CheckpointStore.fail`` persisted, and a restarted service resumes the
schedules it finds in ``sync_checkpoints.next_attempt_at``. A hotel whose host's circuit is
open is not started at all: its error is recorded without counting against it (``breaker.py``
decides when a whole host is failing). How late each sync starts against its due time is
``pmsync_fetcher_schedule_lag_seconds``.

This module must never let one hotel's failure end the service, and never log a credential.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiokafka import AIOKafkaProducer
from psycopg_pool import ConnectionPool

from pmsync import hotels as registry
from pmsync.db.connect import make_pool
from pmsync.fetching import metrics
from pmsync.fetching.backoff import DEFAULT_MAX_S, BackoffPolicy
from pmsync.fetching.breaker import BreakerSettings, Breakers
from pmsync.fetching.checkpoints import CheckpointStore
from pmsync.fetching.client import PageClient
from pmsync.fetching.configs import Compiler, ConfigCache, compile_body
from pmsync.fetching.retry import RetryPolicy
from pmsync.fetching.sync import HotelJob, SyncResult, sync_hotel
from pmsync.hotels import Hotel
from pmsync.probes import Probe
from pmsync.secrets import SecretError, resolve
from pmsync.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetcherOptions:
    # Syncs in flight at once. Most of a sync is waiting on the PMS (50-500 ms a request), and
    # a hanging PMS holds its slot for whole timeouts, so this is sized for waiting, not CPU:
    # in bench/fetcher.py (1,000 hotels every 20 s, 5% hanging or failing) 64 slots left the
    # healthy hotels' syncs starting 3.5 s late (p50), 256 slots 2 ms.
    concurrency: int = 256
    request_timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The host circuit (breaker.py): consecutive connection failures, the wait before a
    # probe, and the spread of failing hotels that counts as the whole host failing.
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    breaker_spread_ratio: float = 0.8
    breaker_spread_min_hotels: int = 10
    breaker_window_s: float = 60.0
    # A failing hotel's backoff across syncs (backoff.py): never longer than this (or its
    # poll interval, if that is longer).
    backoff_max_s: float = DEFAULT_MAX_S
    backoff_jitter: float = 0.25
    registry_refresh_s: float = 30.0
    # ±10% around each hotel's interval, so hotels added together do not poll in lock-step.
    jitter_ratio: float = 0.1
    # A fresh service spreads its first polls over this many seconds (at most the interval).
    start_spread_s: float = 5.0
    # How long a stop waits for running syncs before cancelling them (their checkpoints
    # then stay where they were).
    stop_grace_s: float = 10.0


@dataclass(frozen=True)
class Unready:
    """A hotel that cannot be synced as configured; ``reason`` is recorded as its error."""

    hotel: Hotel
    reason: str


class Fetcher:
    def __init__(self, settings: Settings, options: FetcherOptions | None = None,
                 compiler: Compiler = compile_body, environ: dict[str, str] | None = None,
                 on_start: Callable[[str, float], None] | None = None,
                 probe: Probe | None = None) -> None:
        """``on_start(hotel_id, lag_s)`` is called as each scheduled sync starts, with how late
        it started against its due time (bench/fetcher.py collects these)."""
        self.settings = settings
        self.options = options or FetcherOptions()
        self.compiler = compiler
        self.environ = environ
        self.on_start = on_start
        # The schedule loop reports to it: alive while it turns, not ready while the hotels
        # registry cannot be read (pmsync/probes.py; served by `pmsync fetcher --metrics-port`).
        self.probe = probe or Probe.from_env()
        self.semaphore = asyncio.Semaphore(self.options.concurrency)
        o = self.options
        self.breakers = Breakers(BreakerSettings(o.breaker_failures, o.breaker_reset_s,
                                                 o.breaker_spread_ratio, o.breaker_spread_min_hotels,
                                                 o.breaker_window_s),
                                 on_change=metrics.breaker_changed)
        self.backoff = BackoffPolicy(o.backoff_max_s, o.backoff_jitter)
        self.pool: ConnectionPool | None = None
        self.session: aiohttp.ClientSession | None = None
        self.producer: AIOKafkaProducer | None = None
        self._latest: dict[str, HotelJob | Unready] = {}
        self._resume: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> "Fetcher":
        try:
            self.pool = await asyncio.to_thread(make_pool, self.settings.database_url, min_size=1,
                                                max_size=4, name="pmsync-fetcher")
            self.store = CheckpointStore(self.pool, self.backoff)
            self.configs = ConfigCache(self.pool, self.compiler)
            # Idempotent and acks=all: a retried send never duplicates or reorders a hotel's
            # messages, and an ack means every in-sync replica has the message.
            self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap,
                                             enable_idempotence=True, acks="all", linger_ms=5,
                                             client_id="pmsync-fetcher")
            await self.producer.start()
            # A connection per running sync at least: with fewer, hotels hanging on a slow PMS
            # would hold every connection and the healthy ones would queue behind them.
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                limit=max(100, self.options.concurrency)))
        except BaseException:
            await self.__aexit__()
            raise
        self.client = PageClient(self.session, self.breakers, self.options.retry,
                                 self.options.request_timeout_s)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.session is not None:
            await self.session.close()
        if self.producer is not None:
            await self.producer.stop()  # flushes what is still buffered
        if self.pool is not None:
            await asyncio.to_thread(self.pool.close)

    # -- what to sync ----------------------------------------------------------------------

    async def prepare(self, hotel_ids: list[str] | None = None) -> list[HotelJob | Unready]:
        """Active hotels (or those of ``hotel_ids``) with their compiled config and credentials."""
        assert self.pool is not None, "use `async with Fetcher(...)`"
        return await asyncio.to_thread(self._prepare, hotel_ids)

    def _prepare(self, hotel_ids: list[str] | None) -> list[HotelJob | Unready]:
        # On a worker thread, all of it: resolving credentials reads a file per hotel, which for
        # 10,000 hotels would hold the event loop (and every hotel's schedule) for a while.
        with self.pool.connection() as conn:  # type: ignore[union-attr]
            found = registry.active_hotels(conn, hotel_ids)
        configs = self.configs.refresh()
        out: list[HotelJob | Unready] = []
        for hotel in found:
            config = configs.get((hotel.pms_type, hotel.pms_version))
            if config is None:
                out.append(Unready(hotel, f"no PMS config {hotel.pms_type}/{hotel.pms_version} in "
                                          "pms_configs; upload it or change the hotel's version"))
                continue
            if isinstance(config, str):
                out.append(Unready(hotel, config))
                continue
            try:
                credentials = resolve(hotel.credentials_ref, self.settings, self.environ)
            except SecretError as exc:
                out.append(Unready(hotel, str(exc)))
                continue
            out.append(HotelJob(hotel, config.compiled, config.source, credentials))
        return out

    # -- running ---------------------------------------------------------------------------

    async def run_once(self, hotel_ids: list[str] | None = None, *,
                       due_only: bool = False) -> list[SyncResult]:
        """One sync of each active hotel (or each of ``hotel_ids``); results in the order the
        syncs finished. An explicit pass syncs every hotel now; with ``due_only`` hotels still
        backing off (``next_attempt_at`` in the future) are left out, as the service would."""
        entries = await self.prepare(hotel_ids)
        if due_only:
            waiting = await asyncio.to_thread(self.store.backoffs)
            entries = [e for e in entries if e.hotel.id not in waiting]
        results: list[SyncResult] = []
        for finished in asyncio.as_completed([self._run(entry) for entry in entries]):
            results.append(await finished)
        return results

    async def _run(self, entry: HotelJob | Unready, due: float | None = None) -> SyncResult:
        """One sync; ``due`` is the monotonic time the schedule wanted it to start."""
        if isinstance(entry, Unready):
            return await self._record_unready(entry)
        async with self.semaphore:
            if due is not None:
                lag = max(0.0, time.monotonic() - due)
                metrics.SCHEDULE_LAG.observe(lag)
                if self.on_start is not None:
                    self.on_start(entry.hotel.id, lag)
            breaker = self.breakers.for_host(urlsplit(entry.hotel.base_url).netloc)
            if breaker.wait_s() > 0:
                return await self._record_host_down(entry, breaker.host, breaker.reason,
                                                    breaker.wait_s())
            assert self.producer is not None
            return await sync_hotel(entry, self.client, self.producer, self.settings.topics.raw,
                                    self.store, dlq_topic=self.settings.topics.dlq)

    async def _record_host_down(self, entry: HotelJob, host: str, reason: str,
                                wait_s: float) -> SyncResult:
        """The hotel's host is failing as a whole: say so in its status, without counting it
        against the hotel (its own backoff is for its own failures)."""
        fetch_id = uuid.uuid4().hex
        error = (f"not synced: the circuit for {host} is open ({reason}); the next probe is in "
                 f"{wait_s:.0f}s and this hotel is tried again on its schedule")
        metrics.SYNCS.labels(hotel_id=entry.hotel.id, outcome="host_down").inc()
        try:
            await asyncio.to_thread(self.store.fail, entry.hotel.id, fetch_id, error, counts=False)
        except Exception as exc:
            log.error("could not record sync failure", extra={
                "hotel_id": entry.hotel.id, "error": f"{type(exc).__name__}: {exc}"})
        return SyncResult(entry.hotel.id, fetch_id, ok=False, error=error)

    async def _record_unready(self, entry: Unready) -> SyncResult:
        fetch_id = uuid.uuid4().hex
        log.warning("hotel not ready to sync", extra={"hotel_id": entry.hotel.id,
                                                      "error": entry.reason})
        metrics.SYNCS.labels(hotel_id=entry.hotel.id, outcome="error").inc()
        try:
            await asyncio.to_thread(self.store.fail, entry.hotel.id, fetch_id, entry.reason)
        except Exception as exc:
            log.error("could not record sync failure", extra={
                "hotel_id": entry.hotel.id, "error": f"{type(exc).__name__}: {exc}"})
        return SyncResult(entry.hotel.id, fetch_id, ok=False, error=entry.reason)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll every active hotel on its schedule until ``stop`` is set."""
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            # The backoffs a previous process left: those hotels wait them out first.
            self._resume = await asyncio.to_thread(self.store.backoffs)
        except Exception as exc:
            self._resume = {}
            log.error("could not read the hotels' backoffs; they start on their normal schedule",
                      extra={"error": f"{type(exc).__name__}: {exc}"})
        try:
            while not stop.is_set():
                try:
                    entries = await self.prepare()
                except Exception as exc:  # database down: keep the running schedules, retry
                    log.error("could not read the hotels registry", extra={
                        "error": f"{type(exc).__name__}: {exc}"})
                    self.probe.polled(1, waiting=1)
                else:
                    self.probe.polled(1)
                    self.probe.progressed()
                    self._latest = {entry.hotel.id: entry for entry in entries}
                    for hotel_id in list(tasks):
                        if hotel_id not in self._latest:
                            tasks.pop(hotel_id).cancel()
                            log.info("hotel stopped", extra={"hotel_id": hotel_id})
                    for hotel_id in self._latest:
                        task = tasks.get(hotel_id)
                        if task is None or task.done():
                            tasks[hotel_id] = asyncio.create_task(self._hotel_loop(hotel_id, stop),
                                                                  name=f"hotel:{hotel_id}")
                await _wait(stop, self.options.registry_refresh_s)
        finally:
            running = [t for t in tasks.values() if not t.done()]
            if running:
                _, pending = await asyncio.wait(running, timeout=self.options.stop_grace_s)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    async def _hotel_loop(self, hotel_id: str, stop: asyncio.Event) -> None:
        entry = self._latest.get(hotel_id)
        if entry is None:
            return
        delay = self._resume.pop(hotel_id, None)
        if delay is None:
            delay = random.uniform(0, min(self.options.start_spread_s,
                                          float(entry.hotel.poll_interval_s)))
        while True:
            due = time.monotonic() + delay
            if await _wait(stop, delay):
                return
            entry = self._latest.get(hotel_id)
            if entry is None:
                return
            try:
                await self._run(entry, due)
            except asyncio.CancelledError:
                raise
            except Exception:  # sync_hotel records its own failures; this is a last guard
                log.exception("unexpected error in hotel loop", extra={"hotel_id": hotel_id})
            # After a counted failure the store holds the backoff it persisted; otherwise
            # (success, host down, nothing written) the normal schedule.
            delay = self.store.take_backoff(hotel_id)
            if delay is None:
                ratio = self.options.jitter_ratio
                delay = entry.hotel.poll_interval_s * random.uniform(1 - ratio, 1 + ratio)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except asyncio.TimeoutError:
        return False
    return True
