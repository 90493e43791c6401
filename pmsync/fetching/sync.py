"""One hotel's sync: every page since its checkpoint, one Kafka message per reservation, and the
checkpoint advanced only once Kafka acknowledged all of them.

A sync that took more than one request walks its pages again until a walk proves the one
before it skipped nothing while the PMS changed underneath (``walks.py``); each record version
is published once per sync however many walks saw it.

Message value: the reservation re-serialized compactly from the parsed page (``json.dumps``
with ``ensure_ascii=False``; key order, strings and integers of any size are kept, floats keep
their value but not their spelling, e.g. ``612.40`` → ``612.4``). Records are elements of a page
body, so their original bytes cannot be cut out without a span-tracking parser.

This module must never advance the checkpoint after a partial sync, never publish from a page
it could not read completely, and never put a credential in a header, log line or error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from pmsync.errors import PMSConnectionError
from pmsync.fetching import metrics
from pmsync.fetching.checkpoints import CheckpointStore
from pmsync.fetching.client import PageClient, PageRequest
from pmsync.fetching.delta import format_instant, next_cursor, since_value
from pmsync.fetching.pagination import Pager
from pmsync.fetching.source import SourceSpec
from pmsync.fetching.templates import as_headers, as_query, render, render_string
from pmsync.fetching.walks import UnsettledWalksError, Walks, identity
from pmsync.hotels import Hotel
from pmsync.kafka import headers as H
from pmsync.kafka.dlq import SourcePosition, dlq_headers
from pmsync.kafka.limits import MAX_RECORD_BYTES, record_bytes, shrink, too_large_error
from pmsync.secrets import Credentials

log = logging.getLogger(__name__)


class CompiledSource(Protocol):
    """What the fetcher needs from a compiled config (pmsync.config.CompiledConfig)."""

    pms_type: str
    version: str

    def records(self, page: Any) -> Any: ...

    def context_for(self, record: Any, page: Any) -> Any: ...


class Producer(Protocol):
    """aiokafka's ``AIOKafkaProducer.send``: enqueue, return a future resolved on ack."""

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                   partition: int | None = None, timestamp_ms: int | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class HotelJob:
    """A hotel with everything its sync needs, resolved before the sync starts."""

    hotel: Hotel
    compiled: CompiledSource
    source: SourceSpec
    credentials: Credentials


@dataclass
class SyncResult:
    hotel_id: str
    fetch_id: str
    ok: bool
    records: int = 0     # published (each record version once per sync)
    pages: int = 0       # pages of the first walk: how many the hotel's changes filled
    requests: int = 0    # page requests over every walk (what confirming them cost)
    walks: int = 0
    too_large: int = 0   # records sent to the DLQ instead (counted in records too)
    delta_cursor: str | None = None
    error: str | None = None
    seconds: float = 0.0
    finished_at: float = field(default_factory=time.monotonic)


def variables(job: HotelJob, since: str, until: str) -> dict[str, Any]:
    """Every template variable of a request except the paging ones."""
    values: dict[str, Any] = {"since": since, "until": until, "hotel.id": job.hotel.id,
                              "hotel.property_id": job.hotel.property_id}
    for name, value in job.credentials.items():
        values[f"credential.{name}"] = value
    return values


def build_request(job: HotelJob, values: Mapping[str, Any]) -> PageRequest:
    spec = job.source.request
    # Path segments are quoted so a property id cannot change which endpoint is called.
    path = render_string(spec.path, values, quote=lambda text: quote(text, safe=""))
    base = job.hotel.base_url.rstrip("/")
    return PageRequest(method=spec.method, url=base + path,
                       query=as_query(render(spec.query, values)),
                       headers=as_headers(render(spec.headers, values)),
                       body=render(spec.body, values) if spec.body is not None else None,
                       url_template=base + spec.path)


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _records(job: HotelJob, body: Any, where: str) -> list[Any]:
    """The page's records, or a PMSConnectionError: a page whose records cannot be found is
    unreadable, exactly like a malformed body, so the sync fails rather than skip it."""
    try:
        found = job.compiled.records(body)
    except Exception as exc:  # the config's own error type; the page is unusable either way
        raise PMSConnectionError(f"{where}: records_path {job.source.records_path} could not be "
                                 f"applied to the response: {exc}") from None
    if not isinstance(found, list):
        raise PMSConnectionError(f"{where}: records_path {job.source.records_path} found a "
                                 f"{type(found).__name__}, not a list of reservations")
    return found


def _base_headers(job: HotelJob, fetch_id: str) -> list[tuple[str, bytes]]:
    return [(H.HOTEL_ID, job.hotel.id.encode()),
            (H.PMS_TYPE, str(job.compiled.pms_type).encode()),
            (H.PMS_VERSION, str(job.compiled.version).encode()),
            (H.FETCH_ID, fetch_id.encode())]


def _too_large(job: HotelJob, headers: list[tuple[str, bytes]], size: int, topic: str
               ) -> list[tuple[str, bytes]]:
    error = too_large_error(size)
    return dlq_headers(error, SourcePosition(topic, -1, -1), original=headers,
                       config_key=getattr(job.compiled, "key", None),
                       config_hash=getattr(job.compiled, "hash", None))


async def sync_hotel(job: HotelJob, client: PageClient, producer: Producer, topic: str,
                     store: CheckpointStore,
                     now: Callable[[], datetime] = lambda: datetime.now(UTC),
                     run_db: Callable[..., Awaitable[Any]] = asyncio.to_thread,
                     dlq_topic: str | None = None) -> SyncResult:
    """Run one full sync of ``job.hotel``; returns its result, never raises a sync failure.

    A reservation too large for a Kafka message goes to ``dlq_topic`` as a preview with the
    reason, and the sync goes on (without a DLQ topic the sync fails, as any publish error)."""
    hotel_id = job.hotel.id
    fetch_id = uuid.uuid4().hex
    started = now()
    clock = time.monotonic()
    result = SyncResult(hotel_id, fetch_id, ok=False)
    try:
        checkpoint = await run_db(store.start, hotel_id, fetch_id)
        since = since_value(checkpoint.delta_cursor, job.source.delta)
        base = variables(job, since, format_instant(started, job.source.delta.format))
        key = hotel_id.encode()
        walks = Walks()
        pager = Pager(job.source.pagination)
        more = True
        while more:
            request = build_request(job, {**base, **pager.variables()})
            body = await client.fetch(hotel_id, request)
            records = _records(job, body, request.where)
            fetched_at = now().strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
            page_headers = _base_headers(job, fetch_id) + [(H.FETCHED_AT, fetched_at)]
            acks = []
            published = 0
            for record in records:
                headers = list(page_headers)
                context = job.compiled.context_for(record, body)
                context_bytes = encode(context) if context is not None else None
                value = encode(record)
                if not walks.first_seen(identity(value, context_bytes)):
                    continue    # an earlier walk (or page) of this sync published it
                published += 1
                if context_bytes is not None:
                    headers.append((H.CONTEXT, context_bytes))
                size = record_bytes(key, value, headers)
                if size > MAX_RECORD_BYTES and dlq_topic is not None:
                    preview, dead = shrink(value, _too_large(job, headers, size, topic))
                    acks.append(await producer.send(dlq_topic, value=preview, key=key, headers=dead))
                    result.too_large += 1
                    continue
                acks.append(await producer.send(topic, value=value, key=key, headers=headers))
            # Waiting per page keeps memory bounded; the checkpoint still waits for all pages.
            await asyncio.gather(*acks)
            metrics.RECORDS_PUBLISHED.labels(hotel_id=hotel_id).inc(published)
            result.records += published
            result.requests += 1
            result.walks = walks.count
            if walks.count == 1:
                result.pages += 1
            more = pager.advance(records, body)
            if not more and walks.another(pager.requests):
                pager = Pager(job.source.pagination)
                more = True
        result.delta_cursor = next_cursor(started, job.source.delta)
        await run_db(store.succeed, hotel_id, fetch_id, result.delta_cursor, result.records)
        result.ok = True
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result.error = _describe(exc)
        log.warning("sync failed", extra={"hotel_id": hotel_id, "fetch_id": fetch_id,
                                          "pages": result.pages, "requests": result.requests,
                                          "walks": result.walks,
                                          "error": result.error})
        try:
            await run_db(store.fail, hotel_id, fetch_id, result.error,
                         counts=not isinstance(exc, UnsettledWalksError))
        except Exception as db_exc:  # the database being down must not kill the fetcher
            log.error("could not record sync failure", extra={
                "hotel_id": hotel_id, "error": f"{type(db_exc).__name__}: {db_exc}"})
    result.seconds = time.monotonic() - clock
    result.finished_at = time.monotonic()
    metrics.SYNC_DURATION.labels(hotel_id=hotel_id).observe(result.seconds)
    metrics.SYNCS.labels(hotel_id=hotel_id, outcome="ok" if result.ok else "error").inc()
    if result.ok:
        log.info("sync done", extra={"hotel_id": hotel_id, "fetch_id": fetch_id,
                                     "records": result.records, "pages": result.pages,
                                     "requests": result.requests, "walks": result.walks,
                                     "too_large": result.too_large,
                                     "seconds": round(result.seconds, 3)})
    return result


def _describe(exc: BaseException) -> str:
    """An error as stored in ``sync_checkpoints.last_error``. Credentials only ever live in a
    built request, and ``client.py`` turns every failure around one into a message of its own
    that names no value, so the text of whatever reaches here is safe to keep."""
    if isinstance(exc, PMSConnectionError):
        return f"{type(exc).__name__}: {exc}"
    if type(exc).__module__.startswith(("aiokafka", "kafka")):
        return f"publishing to Kafka failed: {type(exc).__name__}: {exc}"
    return f"unexpected {type(exc).__name__}: {exc}"
