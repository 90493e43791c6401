"""The fetcher end to end: a real HTTP PMS (local aiohttp server), real Kafka, real Postgres.

The PMS here is this file's own small server so each test can script exactly what a hotel
answers; test_fetcher_simulator.py runs the same service against the project's simulator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from kafka import KafkaConsumer

from pmsync.config import config_hash
from pmsync.fetching.checkpoints import CheckpointStore
from pmsync.fetching.retry import RetryPolicy
from pmsync.fetching.runner import Fetcher, FetcherOptions
from pmsync.hotels import Hotel, add_hotel, disable_hotel
from pmsync.kafka import headers as H
from tests import ports

pytestmark = pytest.mark.integration

SECRET = "k-very-secret-123"
ENV = {"PMSYNC_SECRET_FX_KEY": json.dumps({"api_key": SECRET})}
OPTIONS = FetcherOptions(concurrency=4, request_timeout_s=5,
                         retry=RetryPolicy(attempts=3, backoff_initial_s=0.05, backoff_max_s=0.2,
                                           jitter_s=0.05, max_retry_after_s=5))
PAGE_SIZE = 3

CONFIG: dict[str, Any] = {
    "pms_type": "fxtest", "version": "1",
    "source": {
        "request": {"method": "GET", "path": "/hotels/${hotel.property_id}/reservations",
                    "query": {"since": "${since}", "until": "${until}", "page": "${page}",
                              "size": "${page_size}"},
                    "headers": {"Authorization": "Bearer ${credential.api_key}"}},
        "pagination": {"type": "page", "start": 1, "page_size": PAGE_SIZE},
        "delta": {"format": "iso8601", "overlap_seconds": 120, "initial": "2000-01-01T00:00:00Z"},
        "records_path": "$.data"},
    "raw_data_schema": {"type": "object"},
    "field_mappings": {"external_id": "$.id", "status": "$.status",
                       "check_in": {"path": "$.in", "transform": "parse_date"},
                       "check_out": {"path": "$.out", "transform": "parse_date"},
                       "adults": {"const": 2},
                       "source_updated_at": {"path": "$.updated", "transform": "parse_datetime"}},
    "status_mappings": {"ok": "CONFIRMED"},
    "validation_rules": {"required_fields": ["external_id"], "fields": {}, "business_rules": {}},
}


def _records(prefix: str, count: int) -> list[dict[str, Any]]:
    # Floats, unicode and a big integer: what the message value must carry unchanged.
    return [{"id": f"{prefix}-{i}", "status": "ok", "in": "2026-05-01", "out": "2026-05-03",
             "updated": "2026-04-20T08:15:00Z", "amount": 100.5 + i, "guest": "Zoë Ø",
             "big": 12345678901234567890123} for i in range(count)]


class FakePMS:
    """Scripted hotels by property id. A script is a list of answers, one per request to that
    property, the last repeating: "ok" (serve the page asked for), "429", "500", "malformed",
    "hang"."""

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.scripts: dict[str, list[str]] = {}
        self.requests: dict[str, list[web.Request]] = {}
        self.malformed_pages: dict[str, set[int]] = {}

    def hotel(self, property_id: str, records: list[dict[str, Any]], script: list[str] | None = None,
              malformed_pages: set[int] | None = None) -> None:
        self.records[property_id] = records
        self.scripts[property_id] = script or ["ok"]
        self.malformed_pages[property_id] = malformed_pages or set()
        self.requests[property_id] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        prop = request.match_info["prop"]
        seen = self.requests.setdefault(prop, [])
        seen.append(request)
        script = self.scripts.get(prop, ["ok"])
        answer = script[min(len(seen), len(script)) - 1]
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if answer == "429":
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "0"})
        if answer == "500":
            return web.json_response({"error": "boom"}, status=500)
        if answer == "hang":
            await asyncio.sleep(60)
        page = int(request.query["page"])
        if answer == "malformed" or page in self.malformed_pages.get(prop, set()):
            return web.Response(body=b'{"data": [{"id": "cut', content_type="application/json")
        size = int(request.query["size"])
        chunk = self.records.get(prop, [])[(page - 1) * size: page * size]
        return web.json_response({"data": chunk, "page": page})


def _store_config(db) -> None:
    db.execute("""INSERT INTO pms_configs (pms_type, version, body, config_hash)
                  VALUES (%s, %s, %s, %s) ON CONFLICT (pms_type, version) DO NOTHING""",
               (CONFIG["pms_type"], CONFIG["version"], json.dumps(CONFIG), config_hash(CONFIG)))


def _add(db, base_url: str, property_id: str, *, credentials_ref: str | None = "fx_key",
         version: str = "1") -> str:
    hotel_id = f"fx-{property_id}-{uuid.uuid4().hex[:6]}"
    add_hotel(db, Hotel(hotel_id, hotel_id, "fxtest", version, base_url, property_id,
                        credentials_ref, 60))
    return hotel_id


def _checkpoint(db, hotel_id: str) -> dict[str, Any]:
    row = db.execute("""SELECT delta_cursor, last_error, consecutive_failures, records_fetched,
                               last_success_at, last_attempt_at, last_error_at
                          FROM sync_checkpoints WHERE hotel_id = %s""", (hotel_id,)).fetchone()
    keys = ("delta_cursor", "last_error", "consecutive_failures", "records_fetched",
            "last_success_at", "last_attempt_at", "last_error_at")
    return dict(zip(keys, row)) if row else {}


def _consume(settings, expected: int) -> list[Any]:
    consumer = KafkaConsumer(settings.topics.raw, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5_000,
                             group_id=f"fx-{uuid.uuid4().hex[:8]}")
    messages = []
    try:
        for message in consumer:
            messages.append(message)
            if len(messages) >= expected + 50:
                break
    finally:
        consumer.close()
    return messages


def _run(pms: FakePMS, settings, hotel_ids: list[str], options: FetcherOptions = OPTIONS,
         passes: int = 1) -> list[list[Any]]:
    async def main() -> list[list[Any]]:
        app = web.Application()
        app.router.add_get("/hotels/{prop}/reservations", pms.handle)
        async with TestServer(app, host="127.0.0.1", port=pms.port) as _server:
            async with Fetcher(settings, options, environ=ENV) as fetcher:
                return [await fetcher.run_once(hotel_ids) for _ in range(passes)]

    return asyncio.run(main())


@pytest.fixture
def pms(unused_port: int) -> FakePMS:
    fake = FakePMS()
    fake.port = unused_port  # type: ignore[attr-defined]
    fake.url = f"http://127.0.0.1:{unused_port}"  # type: ignore[attr-defined]
    return fake


@pytest.fixture
def unused_port() -> int:
    return ports.unused_port()


def test_each_reservation_is_one_message_keyed_by_hotel_with_lineage_headers(pms, settings, topics, db):
    _store_config(db)
    pms.hotel("p1", _records("A", 7))   # pages of 3, 3, 1
    pms.hotel("p2", _records("B", 2))
    a, b = _add(db, pms.url, "p1"), _add(db, pms.url, "p2")
    before = datetime.now(UTC)
    [results] = _run(pms, settings, [a, b])
    after = datetime.now(UTC)

    assert {(r.hotel_id, r.ok, r.records, r.pages) for r in results} == {(a, True, 7, 3), (b, True, 2, 1)}
    messages = _consume(settings, 9)
    by_hotel: dict[bytes, list[Any]] = {}
    for m in messages:
        by_hotel.setdefault(m.key, []).append(m)
    assert {k: len(v) for k, v in by_hotel.items()} == {a.encode(): 7, b.encode(): 2}
    # Key = hotel id keeps one hotel on one partition, in the PMS's order.
    assert [json.loads(m.value)["id"] for m in by_hotel[a.encode()]] == [f"A-{i}" for i in range(7)]
    assert [json.loads(m.value) for m in by_hotel[a.encode()]] == _records("A", 7)
    fetch_ids = set()
    for m in by_hotel[a.encode()]:
        headers = H.header_dict(m.headers)
        assert H.text(headers, H.HOTEL_ID) == a
        assert H.text(headers, H.PMS_TYPE) == "fxtest" and H.text(headers, H.PMS_VERSION) == "1"
        assert H.CONTEXT not in headers  # this config has no lookup
        fetched_at = datetime.fromisoformat(H.text(headers, H.FETCHED_AT))
        assert before <= fetched_at <= after
        fetch_ids.add(H.text(headers, H.FETCH_ID))
        assert SECRET.encode() not in b"".join(v for _, v in m.headers) + m.value
    assert fetch_ids == {next(r.fetch_id for r in results if r.hotel_id == a)}

    # The PMS was asked exactly as the source block says; a walk of several pages is walked
    # once more to prove nothing moved past a page boundary (pmsync/fetching/walks.py).
    asked = pms.requests["p1"]
    assert [int(r.query["page"]) for r in asked] == [1, 2, 3, 1, 2, 3]
    assert {r.query["since"] for r in asked} == {"2000-01-01T00:00:00Z"}
    assert all(r.query["size"] == str(PAGE_SIZE) for r in asked)

    state = _checkpoint(db, a)
    cursor = datetime.fromisoformat(state["delta_cursor"])
    overlap = timedelta(seconds=120)
    assert before.replace(microsecond=0) - overlap <= cursor <= after - overlap
    assert state["records_fetched"] == 7 and state["consecutive_failures"] == 0
    assert state["last_error"] is None and state["last_success_at"] is not None


def test_the_next_sync_asks_for_changes_since_the_stored_cursor(pms, settings, topics, db):
    _store_config(db)
    pms.hotel("p3", _records("C", 1))
    hotel = _add(db, pms.url, "p3")
    first, second = _run(pms, settings, [hotel], passes=2)
    assert first[0].ok and second[0].ok
    since_second = pms.requests["p3"][1].query["since"]
    assert since_second == first[0].delta_cursor
    assert _checkpoint(db, hotel)["delta_cursor"] == second[0].delta_cursor
    assert _checkpoint(db, hotel)["records_fetched"] == 2


def test_429_and_5xx_answers_are_retried_and_the_sync_completes(pms, settings, topics, db):
    _store_config(db)
    pms.hotel("p4", _records("D", 2), script=["429", "500", "ok"])
    hotel = _add(db, pms.url, "p4")
    [[result]] = _run(pms, settings, [hotel])
    assert result.ok and result.records == 2, result.error
    assert len(pms.requests["p4"]) == 3
    assert len(_consume(settings, 2)) == 2
    assert _checkpoint(db, hotel)["consecutive_failures"] == 0


def test_a_malformed_page_fails_the_sync_and_the_cursor_stays(pms, settings, topics, db):
    _store_config(db)
    pms.hotel("p5", _records("E", 5), malformed_pages={2})
    hotel = _add(db, pms.url, "p5")
    [[result]] = _run(pms, settings, [hotel])

    assert not result.ok
    assert "not valid JSON" in result.error and SECRET not in result.error
    state = _checkpoint(db, hotel)
    assert state["delta_cursor"] is None           # never advanced past an unread page
    assert state["consecutive_failures"] == 1 and state["last_error"] == result.error
    assert state["last_error_at"] is not None and state["last_success_at"] is None
    # Page 1 may be published (the retry re-reads it: at-least-once); nothing of page 2 is.
    ids = [json.loads(m.value)["id"] for m in _consume(settings, 3)]
    assert ids == ["E-0", "E-1", "E-2"]

    # Fixed PMS: the next sync starts from the same (initial) since and completes.
    pms.malformed_pages["p5"] = set()
    pms.requests["p5"].clear()
    [[again]] = _run(pms, settings, [hotel])
    assert again.ok and again.records == 5
    assert pms.requests["p5"][0].query["since"] == "2000-01-01T00:00:00Z"
    assert _checkpoint(db, hotel)["consecutive_failures"] == 0


def test_a_hanging_hotel_does_not_delay_the_others(pms, settings, topics, db):
    _store_config(db)
    pms.hotel("slow", _records("S", 1), script=["hang"])
    pms.hotel("q1", _records("Q", 4))
    pms.hotel("q2", _records("R", 2))
    slow, q1, q2 = _add(db, pms.url, "slow"), _add(db, pms.url, "q1"), _add(db, pms.url, "q2")
    # Two slots for three hotels: the hanging one holds one, the others share the other.
    options = dataclasses.replace(OPTIONS, concurrency=2, request_timeout_s=1.5,
                                  retry=RetryPolicy(attempts=1))
    [results] = _run(pms, settings, [slow, q1, q2], options)

    order = [r.hotel_id for r in results]
    assert order[-1] == slow and set(order[:2]) == {q1, q2}
    assert all(r.ok for r in results[:2])
    assert not results[-1].ok and "did not answer within" in results[-1].error
    assert _checkpoint(db, slow)["delta_cursor"] is None


def test_a_hotel_that_cannot_be_configured_fails_alone(pms, settings, topics, db):
    _store_config(db)
    pms.hotel("ok", _records("K", 1))
    good = _add(db, pms.url, "ok")
    no_secret = _add(db, pms.url, "ok", credentials_ref="missing_ref")
    no_config = _add(db, pms.url, "ok", version="9")
    gone = _add(db, pms.url, "ok")
    disable_hotel(db, gone)

    [results] = _run(pms, settings, [good, no_secret, no_config, gone])
    by_id = {r.hotel_id: r for r in results}
    assert set(by_id) == {good, no_secret, no_config}   # a disabled hotel is not synced
    assert by_id[good].ok
    assert "missing_ref" in by_id[no_secret].error and "PMSYNC_SECRET_MISSING_REF" in by_id[no_secret].error
    assert "fxtest/9" in by_id[no_config].error
    assert _checkpoint(db, no_config)["last_error"] == by_id[no_config].error


class _RecordingStore(CheckpointStore):
    """The real store, noting whether every produced message was acknowledged when the
    checkpoint moved."""

    def __init__(self, inner: CheckpointStore, futures: list[asyncio.Future]) -> None:
        super().__init__(inner.pool)
        self.futures = futures
        self.acked_at_succeed: list[bool] = []

    def succeed(self, *args: Any) -> None:
        self.acked_at_succeed.append(bool(self.futures) and all(
            f.done() and not f.exception() for f in self.futures))
        super().succeed(*args)


class _FailingProducer:
    """Kafka refuses every message (as when the topic is gone or the broker is unreachable)."""

    async def send(self, topic, value=None, key=None, partition=None, timestamp_ms=None, headers=None):
        future = asyncio.get_running_loop().create_future()
        future.set_exception(RuntimeError("broker unavailable"))
        return future


def test_the_checkpoint_moves_only_after_kafka_acknowledged_every_message(pms, settings, topics, db):
    from pmsync.fetching.sync import sync_hotel

    _store_config(db)
    pms.hotel("ack", _records("T", 5))
    acked, refused = _add(db, pms.url, "ack"), _add(db, pms.url, "ack")

    async def main() -> tuple[Any, Any, list[bool]]:
        app = web.Application()
        app.router.add_get("/hotels/{prop}/reservations", pms.handle)
        async with TestServer(app, host="127.0.0.1", port=pms.port):
            async with Fetcher(settings, OPTIONS, environ=ENV) as fetcher:
                jobs = {job.hotel.id: job for job in await fetcher.prepare([acked, refused])}
                futures: list[asyncio.Future] = []
                real_send = fetcher.producer.send

                async def send(*args: Any, **kwargs: Any) -> asyncio.Future:
                    future = await real_send(*args, **kwargs)
                    futures.append(future)
                    return future

                fetcher.producer.send = send  # type: ignore[method-assign]
                store = _RecordingStore(fetcher.store, futures)
                ok = await sync_hotel(jobs[acked], fetcher.client, fetcher.producer,
                                      settings.topics.raw, store)
                bad = await sync_hotel(jobs[refused], fetcher.client, _FailingProducer(),
                                       settings.topics.raw, fetcher.store)
                return ok, bad, store.acked_at_succeed

    ok, bad, acked_at_succeed = asyncio.run(main())
    assert ok.ok and ok.records == 5 and acked_at_succeed == [True]
    assert not bad.ok and "broker unavailable" in bad.error
    assert _checkpoint(db, refused)["delta_cursor"] is None
    assert _checkpoint(db, refused)["consecutive_failures"] == 1


def test_a_reservation_too_large_for_kafka_goes_to_the_dlq_and_the_sync_goes_on(pms, settings, topics, db):
    _store_config(db)
    records = _records("L", 3)
    records[1]["notes"] = "x" * 1_200_000   # over Kafka's 1 MiB message limit
    pms.hotel("p1", records)
    hotel = _add(db, pms.url, "p1")
    [[result]] = _run(pms, settings, [hotel])

    assert (result.ok, result.records, result.too_large) == (True, 3, 1)
    assert _checkpoint(db, hotel)["last_error"] is None
    assert [json.loads(m.value)["id"] for m in _consume(settings, 2)] == ["L-0", "L-2"]
    consumer = KafkaConsumer(settings.topics.dlq, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5_000)
    [dead] = list(consumer)
    consumer.close()
    headers = H.header_dict(dead.headers)
    assert dead.key == hotel.encode() and len(dead.value) == 64 * 1024
    assert dead.value.startswith(b'{"id":"L-1"')
    assert headers["error.stage"] == b"schema" and headers["error.class"] == b"PMSDataValidationError"
    assert b"more than the 900,000 a Kafka message may carry" in headers["error.message"]
    assert H.text(headers, H.HOTEL_ID) == hotel
