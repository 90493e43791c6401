"""A hotel whose syncs keep failing backs off across syncs: its wait doubles up to the cap, the
schedule is kept in ``sync_checkpoints.next_attempt_at`` so a restarted fetcher keeps it, sync
status shows it (``pmsync hotels list``, ``/api/hotels/me/sync-status``), and the first success
ends it on its own. The healthy hotel next to it is never affected. Real simulator, Kafka and
Postgres; the schedule is read from the database, never timed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from pmsync.apikeys import create_key
from pmsync.fetching.retry import RetryPolicy
from pmsync.fetching.runner import Fetcher, FetcherOptions
from pmsync.simulator.server import create_app
from pmsync.simulator.simulator import Simulator
from services.api import create_app as create_api
from tests.integration.test_fetch_isolation import MEWS
from tests.integration.test_fetcher_service import _until
from tests.integration.test_fetcher_simulator import _register, _store_configs
from tests.ports import unused_port

pytestmark = pytest.mark.integration

CAP_S = 4
OPTIONS = FetcherOptions(concurrency=4, request_timeout_s=5, registry_refresh_s=0.5,
                         start_spread_s=0.1, retry=RetryPolicy(attempts=1),
                         backoff_max_s=CAP_S, backoff_jitter=0)


def _row(db, hotel_id: str) -> dict[str, Any]:
    row = db.execute(
        """SELECT consecutive_failures, last_attempt_at, last_error_at, next_attempt_at,
                  extract(epoch FROM next_attempt_at - last_error_at)::float8 AS wait_s,
                  last_success_at, last_error
             FROM sync_checkpoints WHERE hotel_id = %s""", (hotel_id,)).fetchone()
    keys = ("failures", "attempt_at", "error_at", "next_at", "wait_s", "success_at", "error")
    return dict(zip(keys, row)) if row else {"failures": 0}


def _hotels_list(settings) -> dict[str, dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "pmsync.cli", "hotels", "list", "--json"],
                          env={**os.environ, **settings.to_env()}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}


def _sync_status(settings, hotel_id: str) -> dict[str, Any]:
    api = create_api(settings, pool_size=1)
    try:
        key = create_key(settings.database_url, hotel_id=hotel_id).key
        response = api.test_client().get("/api/hotels/me/sync-status",
                                          headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.json
        return response.json["sync"]
    finally:
        api.extensions["pmsync_pool"].close()


def test_a_failing_hotel_backs_off_keeps_its_backoff_across_a_restart_and_recovers(settings, topics, db):
    _store_configs(db)
    port = unused_port()
    sim = Simulator(seed=31, hotels=2, base_url=f"http://127.0.0.1:{port}", initial_bookings=2,
                    families=MEWS)
    bad_sim, good_sim = [h["id"] for h in sim.hotels(False)]
    sim.faults.load({"hotels": {bad_sim: {"error_rate": 1.0}}})
    ours, env = _register(db, sim)
    bad, good = (next(h for h, s in ours.items() if s == sim_id) for sim_id in (bad_sim, good_sim))
    db.execute("UPDATE hotels SET poll_interval_s = 1 WHERE id = ANY(%s)", ([bad, good],))
    waits: dict[int, float] = {}

    def seen_failures(at_least: int) -> bool:
        row = _row(db, bad)
        if row["failures"]:
            waits[row["failures"]] = row["wait_s"]
        assert _row(db, good)["failures"] == 0
        return row["failures"] >= at_least

    async def service(until, what: str) -> None:
        async with Fetcher(settings, OPTIONS, environ=env) as fetcher:
            stop = asyncio.Event()
            running = asyncio.create_task(fetcher.run_forever(stop))
            await _until(until, what, limit_s=60)
            stop.set()
            await asyncio.wait_for(running, timeout=30)

    async def main() -> dict[str, Any]:
        async with TestServer(create_app(sim), host="127.0.0.1", port=port):
            await service(lambda: seen_failures(4), "four failed syncs in a row")
            before_restart = _row(db, bad)
            seen = {"cli": _hotels_list(settings)[bad], "api": _sync_status(settings, bad)}
            # A new process: the first attempt waits for the persisted time, not the start spread.
            await service(lambda: seen_failures(before_restart["failures"] + 1), "a failure after restart")
            after_restart = _row(db, bad)
            sim.faults.load({})
            await service(lambda: _row(db, bad)["failures"] == 0, "the hotel recovered")
            return {**seen, "before": before_restart, "after": after_restart,
                    "recovered": _row(db, bad), "api_recovered": _sync_status(settings, bad)}

    out = asyncio.run(main())
    # The wait doubles from the 1 s interval and stops at the cap.
    assert {n: round(w, 2) for n, w in waits.items() if n <= 4} == {1: 1, 2: 2, 3: 4, 4: 4}
    assert all(round(w, 2) == CAP_S for n, w in waits.items() if n > 4)
    # Restart: no attempt before the persisted time.
    assert out["after"]["attempt_at"] >= out["before"]["next_at"]
    # Visible in sync status, the same in the CLI and the API.
    assert out["cli"]["consecutive_failures"] == out["before"]["failures"]
    assert out["cli"]["next_attempt_at"] == out["before"]["next_at"].isoformat()
    assert out["api"]["consecutive_failures"] == out["before"]["failures"]
    assert out["api"]["next_attempt_at"] is not None and "HTTP 5" in out["api"]["last_error"]
    # Recovery on its own: count and backoff gone after the first success.
    assert out["recovered"]["next_at"] is None and out["recovered"]["success_at"] is not None
    assert out["api_recovered"]["next_attempt_at"] is None
    assert out["api_recovered"]["consecutive_failures"] == 0
