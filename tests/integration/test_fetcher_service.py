"""The long-running fetcher: hotels added later start, disabled ones stop, stop is clean; and
the ``pmsync fetcher`` process serves metrics and exits cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pmsync.fetching.runner import Fetcher, FetcherOptions
from pmsync.hotels import Hotel, add_hotel, disable_hotel
from tests.integration.test_fetcher_sync import CONFIG, ENV, OPTIONS, SECRET, FakePMS, _records, _store_config
from tests.ports import unused_port

pytestmark = pytest.mark.integration


def _add(db, url: str, prop: str, interval: int = 1) -> str:
    hotel_id = f"svc-{prop}-{uuid.uuid4().hex[:6]}"
    add_hotel(db, Hotel(hotel_id, hotel_id, CONFIG["pms_type"], CONFIG["version"], url, prop,
                        "fx_key", interval))
    return hotel_id


def _successes(db, hotel_id: str) -> int:
    """How many syncs the hotel has had, seen through its checkpoint (records per sync = 1)."""
    row = db.execute("SELECT records_fetched FROM sync_checkpoints WHERE hotel_id = %s",
                     (hotel_id,)).fetchone()
    return row[0] if row else 0


async def _until(condition, what: str, limit_s: float = 30.0) -> None:
    # A generous ceiling that only turns a hang into a failure; it is not a performance bound.
    deadline = time.monotonic() + limit_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.1)


def test_the_service_starts_new_hotels_stops_disabled_ones_and_stops_cleanly(settings, topics, db):
    _store_config(db)
    pms = FakePMS()
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    for prop in ("first", "later"):
        pms.hotel(prop, _records(prop, 1))
    first = _add(db, url, "first")
    options = FetcherOptions(concurrency=4, request_timeout_s=5, retry=OPTIONS.retry,
                             registry_refresh_s=0.3, start_spread_s=0.1)

    async def main() -> dict[str, Any]:
        app = web.Application()
        app.router.add_get("/hotels/{prop}/reservations", pms.handle)
        async with TestServer(app, host="127.0.0.1", port=port):
            async with Fetcher(settings, options, environ=ENV) as fetcher:
                stop = asyncio.Event()
                service = asyncio.create_task(fetcher.run_forever(stop))
                await _until(lambda: _successes(db, first) >= 2, "first hotel polled twice")
                later = _add(db, url, "later")
                await _until(lambda: _successes(db, later) >= 1, "hotel added later polled")
                disable_hotel(db, first)
                # After the next registry refresh the disabled hotel gets no more requests.
                await asyncio.sleep(options.registry_refresh_s * 3)
                polls_when_disabled = len(pms.requests["first"])
                await _until(lambda: _successes(db, later) >= 3, "later hotel keeps its schedule")
                stop.set()
                await asyncio.wait_for(service, timeout=30)
                return {"disabled_polls": polls_when_disabled,
                        "first_polls_at_end": len(pms.requests["first"]), "later": later}

    out = asyncio.run(main())
    assert out["first_polls_at_end"] == out["disabled_polls"]
    assert _successes(db, out["later"]) >= 3


def _start(settings, *args: str) -> subprocess.Popen:
    env = {**os.environ, **settings.to_env(), **ENV}
    return subprocess.Popen([sys.executable, "-m", "pmsync.cli", "fetcher", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_fetcher_process_serves_metrics_and_exits_cleanly_on_sigterm(settings, topics, db):
    _store_config(db)
    pms = FakePMS()
    pms.hotel("proc", _records("P", 2))
    port, metrics_port = unused_port(), unused_port()
    hotel = _add(pms_db := db, f"http://127.0.0.1:{port}", "proc", interval=1)

    async def serve_until_metrics() -> str:
        app = web.Application()
        app.router.add_get("/hotels/{prop}/reservations", pms.handle)
        async with TestServer(app, host="127.0.0.1", port=port):
            process = _start(settings, "--metrics-port", str(metrics_port), "--registry-refresh", "1")
            try:
                await _until(lambda: _successes(pms_db, hotel) >= 2, "the process synced the hotel")
                text = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics",
                                                   timeout=10).read().decode())
                process.send_signal(signal.SIGTERM)
                _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
            assert process.returncode == 0, stderr[-2000:]
            assert SECRET not in stderr
            for line in stderr.splitlines():
                json.loads(line)  # every log line is one JSON object
            return text

    text = asyncio.run(serve_until_metrics())
    assert f'pmsync_fetcher_requests_total{{hotel_id="{hotel}",status="200"}}' in text
    assert f'pmsync_fetcher_records_published_total{{hotel_id="{hotel}"}}' in text
    assert "pmsync_fetcher_sync_duration_seconds_bucket" in text
    assert 'pmsync_fetcher_circuit_state{host="127.0.0.1:' in text
    assert SECRET not in text


def test_fetcher_once_exits_non_zero_when_a_hotel_failed(settings, topics, db):
    _store_config(db)
    pms = FakePMS()
    pms.hotel("once", _records("O", 1), script=["malformed"])
    port = unused_port()
    hotel = _add(db, f"http://127.0.0.1:{port}", "once")

    async def main() -> subprocess.CompletedProcess:
        app = web.Application()
        app.router.add_get("/hotels/{prop}/reservations", pms.handle)
        async with TestServer(app, host="127.0.0.1", port=port):
            env = {**os.environ, **settings.to_env(), **ENV}
            return await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "pmsync.cli", "fetcher", "--once", "--hotel", hotel,
                                 "--timeout", "5"], env=env, capture_output=True, text=True, timeout=120)

    done = asyncio.run(main())
    assert done.returncode == 1, done.stderr[-2000:]
    [line] = done.stdout.splitlines()
    result = json.loads(line)
    assert result["hotel_id"] == hotel and result["ok"] is False and "not valid JSON" in result["error"]
