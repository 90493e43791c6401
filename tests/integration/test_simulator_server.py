"""The simulator over real HTTP on 127.0.0.1: every family fetched the way its config says,
the control API, faults on the wire (hangs, 429, latency), background ticks, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from pmsync.fetching.delta import format_instant, since_value
from pmsync.fetching.pagination import Pager
from pmsync.fetching.source import SourceSpec
from pmsync.fetching.templates import as_headers, as_query, render
from pmsync.simulator import Simulator, create_app
from tests.ports import unused_port
from tests.unit.test_simulator_truth import FakeClock, compiled_for, pipeline

REPO = Path(__file__).resolve().parents[2]


def serve(sim: Simulator, test: Callable[[aiohttp.ClientSession, str], Awaitable[None]],
          tick_seconds: float | None = None) -> None:
    async def main() -> None:
        server = TestServer(create_app(sim, tick_seconds), host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                await test(session, str(server.make_url("")).rstrip("/"))
        finally:
            await server.close()
    asyncio.run(main())


async def fetch_all(session: aiohttp.ClientSession, base: str, hotel: dict[str, Any],
                    until: Any) -> list[Any]:
    """One sync over HTTP, every request built from the hotel's config source block."""
    compiled = compiled_for(hotel)
    spec = SourceSpec.from_block(compiled.source)
    spec = spec.__class__(spec.request, spec.pagination.__class__(
        **{**spec.pagination.__dict__, "page_size": 9}), spec.delta, spec.records_path)
    pager = Pager(spec.pagination)
    variables = {"since": since_value(None, spec.delta),
                 "until": format_instant(until, spec.delta.format),
                 "hotel.id": hotel["id"], "hotel.property_id": hotel["property_id"],
                 **{f"credential.{k}": v for k, v in hotel["credentials"].items()}}
    pages = []
    while True:
        v = {**variables, **pager.variables()}
        body = render(spec.request.body, v)
        async with session.request(spec.request.method, base + spec.request.path,
                                   params=as_query(render(spec.request.query, v)),
                                   headers=as_headers(render(spec.request.headers, v)),
                                   data=None if body is None else orjson.dumps(body)) as resp:
            assert resp.status == 200, await resp.text()
            page = orjson.loads(await resp.read())
        pages.append(page)
        if not pager.advance(compiled.records(page), page):
            return pages


def test_every_family_over_http_reaches_the_truth() -> None:
    clock = FakeClock()
    sim = Simulator(seed=13, hotels=6, clock=clock, invalid_rate=0.15, initial_bookings=30)

    async def check(session: aiohttp.ClientSession, base: str) -> None:
        for hotel in sim.hotels():
            pages = await fetch_all(session, base, hotel, clock() + timedelta(days=1))
            store, rejects = pipeline(sim, hotel, pages)
            truth = sim.truth(hotel["id"])
            assert sorted(store.values(), key=lambda b: b["external_id"]) == truth["bookings"]
            assert len(rejects) == len(truth["invalid"])

    serve(sim, check)


def test_control_api_ticks_reports_truth_and_sets_faults() -> None:
    clock = FakeClock()
    sim = Simulator(seed=13, hotels=3, clock=clock)

    async def check(session: aiohttp.ClientSession, base: str) -> None:
        async with session.get(base + "/_sim/hotels") as resp:
            hotels = (await resp.json())["hotels"]
        assert len(hotels) == 3 and all("credentials" not in h for h in hotels)
        async with session.get(base + "/_sim/hotels?credentials=1") as resp:
            assert all(h["credentials"] for h in (await resp.json())["hotels"])
        async with session.get(base + "/_sim/truth/sim-002") as resp:
            before = await resp.json()
        clock.advance(60)
        async with session.post(base + "/_sim/tick", json={"count": 3}) as resp:
            assert (await resp.json())["tick"] == 3
        async with session.get(base + "/_sim/truth") as resp:
            after = await resp.json()
        assert after["tick"] == 3 and after["hotels"]["sim-002"] != before
        async with session.get(base + "/_sim/truth/sim-999") as resp:
            assert resp.status == 404
        async with session.post(base + "/_sim/tick", json={"count": "many"}) as resp:
            assert resp.status == 400
        async with session.post(base + "/_sim/faults",
                                json={"hotels": {"sim-001": {"error_rate": 1.0}}}) as resp:
            assert (await resp.json())["hotels"]["sim-001"]["error_rate"] == 1.0
        async with session.post(base + "/_sim/faults", json={"default": {"error_rate": 9}}) as resp:
            assert resp.status == 400
            assert "between 0 and 1" in (await resp.json())["error"]["message"]
        async with session.get(base + "/_sim/healthz") as resp:
            assert (await resp.json())["status"] == "ok"

    serve(sim, check)


def test_a_hang_outlasts_the_client_timeout_and_429_carries_retry_after() -> None:
    sim = Simulator(seed=1, hotels=2, clock=FakeClock(), families=[("generic", "v1")],
                    faults={"hotels": {"sim-001": {"timeout_rate": 1.0, "hang_seconds": 5},
                                       "sim-002": {"rate_limit_rate": 1.0,
                                                   "retry_after_seconds": 3,
                                                   "latency_ms": 300}}})
    hung, limited = sim.hotels()

    async def check(session: aiohttp.ClientSession, base: str) -> None:
        url = base + "/v1/reservations"
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            async with session.get(url, params={"hotelId": hung["property_id"]},
                                   headers={"X-API-Key": hung["credentials"]["api_key"]},
                                   timeout=aiohttp.ClientTimeout(total=0.5)):
                pass
        assert time.monotonic() - started < 2
        started = time.monotonic()
        async with session.get(url, params={"hotelId": limited["property_id"]},
                               headers={"X-API-Key": limited["credentials"]["api_key"]}) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "3"
        assert time.monotonic() - started >= 0.3

    serve(sim, check)


def test_background_ticks_move_time_on_by_themselves() -> None:
    sim = Simulator(seed=1, hotels=2)

    async def check(session: aiohttp.ClientSession, base: str) -> None:
        await asyncio.sleep(0.75)
        async with session.get(base + "/_sim/healthz") as resp:
            assert (await resp.json())["tick"] >= 2

    serve(sim, check, tick_seconds=0.2)


def test_cli_prints_the_registry_and_serves() -> None:
    pmsync = [sys.executable, "-m", "pmsync.cli"]
    printed = subprocess.run([*pmsync, "simulator", "--hotels", "4", "--seed", "7", "hotels"],
                             capture_output=True, text=True, check=True, cwd=REPO)
    registry = json.loads(printed.stdout)
    assert [h["id"] for h in registry] == ["sim-001", "sim-002", "sim-003", "sim-004"]
    assert registry == Simulator(seed=7, hotels=4, base_url="http://127.0.0.1:8081").hotels()

    port = unused_port()
    proc = subprocess.Popen([*pmsync, "simulator", "--hotels", "3", "--seed", "7",
                             "--port", str(port), "--tick-seconds", "60"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/hotels") as resp:
                    hotels = json.load(resp)["hotels"]
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.2)
        assert {h["base_url"] for h in hotels} == {f"http://127.0.0.1:{port}"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
