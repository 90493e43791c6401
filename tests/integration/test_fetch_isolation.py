"""Failures stay with the hotel that has them: always-failing hotels on a shared PMS host (one
simulator, one base URL) never fail the syncs of the healthy hotels next to them. Real
simulator server, real Kafka and Postgres."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from pmsync.fetching.runner import Fetcher, FetcherOptions
from pmsync.simulator.server import create_app
from pmsync.simulator.simulator import Simulator
from tests.integration.test_fetcher_simulator import OPTIONS, _register, _store_configs
from tests.ports import unused_port

pytestmark = pytest.mark.integration

# Mews ids are UUIDs: no two simulated hotels share a property id, whatever the count.
MEWS = [("mews", "2023-06-06"), ("mews", "2017-04-12")]


def _sync_twice(sim: Simulator, port: int, settings, env: dict[str, str], hotel_ids: list[str],
                options: FetcherOptions) -> list[list[Any]]:
    async def main() -> list[list[Any]]:
        async with TestServer(create_app(sim), host="127.0.0.1", port=port):
            async with Fetcher(settings, options, environ=env) as fetcher:
                return [await fetcher.run_once(hotel_ids), await fetcher.run_once(hotel_ids)]

    return asyncio.run(main())


def test_always_failing_hotels_never_fail_the_healthy_hotels_on_their_host(settings, topics, db):
    _store_configs(db)
    port = unused_port()
    sim = Simulator(seed=23, hotels=36, base_url=f"http://127.0.0.1:{port}", initial_bookings=3,
                    families=MEWS)
    sim_ids = [h["id"] for h in sim.hotels(False)]
    # The first hotels in id order start together, so their failures come back to back.
    failing = set(sim_ids[:6])
    sim.faults.load({"hotels": {
        **{h: {"error_rate": 1.0} for h in sim_ids[:3]},
        sim_ids[3]: {"truncated_rate": 1.0},
        sim_ids[4]: {"rate_limit_rate": 1.0, "retry_after_seconds": 0},
        sim_ids[5]: {"malformed_rate": 1.0},
    }})
    ours, env = _register(db, sim)
    # The service's own breaker settings: this is about their defaults, not a test override.
    options = dataclasses.replace(FetcherOptions(), concurrency=8, request_timeout_s=5,
                                  retry=OPTIONS.retry)
    rounds = _sync_twice(sim, port, settings, env, list(ours), options)

    for results in rounds:
        by_sim = {ours[r.hotel_id]: r for r in results}
        assert len(by_sim) == len(sim_ids)
        failed_healthy = {h: by_sim[h].error for h in sim_ids if h not in failing and not by_sim[h].ok}
        assert failed_healthy == {}
        assert all(not by_sim[h].ok for h in failing)
