"""The fetcher against the project's PMS simulator and the shipped configs (every family and
version), with real Kafka and Postgres: what it publishes is every record the PMS holds, in a
shape the compiled configs can map, and faults are retried or recorded per hotel."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from kafka import KafkaConsumer

from pmsync.config import compile_config, load_config_dir
from pmsync.errors import PMSError
from pmsync.fetching.retry import RetryPolicy
from pmsync.fetching.runner import Fetcher, FetcherOptions
from pmsync.hotels import Hotel, add_hotel
from pmsync.kafka import headers as H
from pmsync.secrets import env_name
from pmsync.simulator.server import create_app
from pmsync.simulator.simulator import Simulator
from tests.ports import unused_port

pytestmark = pytest.mark.integration

CONFIG_DIR = Path(__file__).resolve().parents[2] / "pms_configs"
OPTIONS = FetcherOptions(concurrency=4, request_timeout_s=2,
                         retry=RetryPolicy(attempts=4, backoff_initial_s=0.05, backoff_max_s=0.2,
                                           jitter_s=0.05, max_retry_after_s=5))


def _store_configs(db) -> dict[tuple[str, str], Any]:
    compiled = {}
    for cfg in load_config_dir(CONFIG_DIR):
        db.execute("""INSERT INTO pms_configs (pms_type, version, body, config_hash)
                      VALUES (%s, %s, %s, %s) ON CONFLICT (pms_type, version)
                      DO UPDATE SET body = excluded.body, config_hash = excluded.config_hash""",
                   (cfg.pms_type, cfg.version, json.dumps(cfg.body), cfg.hash))
        compiled[(cfg.pms_type, cfg.version)] = compile_config(cfg)
    return compiled


def _register(db, sim: Simulator) -> tuple[dict[str, str], dict[str, str]]:
    """Register every simulated hotel under a test-unique id; returns our id → sim id and the
    environment holding their credentials."""
    ours, env = {}, {}
    prefix = uuid.uuid4().hex[:6]
    for entry in sim.hotels(with_credentials=True):
        hotel_id = f"s{prefix}-{entry['id']}"
        ref = f"sim_{prefix}_{entry['id']}"
        env[env_name(ref)] = json.dumps(entry["credentials"])
        add_hotel(db, Hotel(hotel_id, entry["name"], entry["pms_type"], entry["pms_version"],
                            entry["base_url"], entry["property_id"], ref, 60))
        ours[hotel_id] = entry["id"]
    return ours, env


def _consume(settings) -> list[Any]:
    consumer = KafkaConsumer(settings.topics.raw, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5_000,
                             group_id=f"sim-{uuid.uuid4().hex[:8]}")
    try:
        return list(consumer)
    finally:
        consumer.close()


def _run(sim: Simulator, port: int, settings, env: dict[str, str], hotel_ids: list[str],
         options: FetcherOptions = OPTIONS) -> list[Any]:
    async def main() -> list[Any]:
        async with TestServer(create_app(sim), host="127.0.0.1", port=port):
            async with Fetcher(settings, options, environ=env) as fetcher:
                return await fetcher.run_once(hotel_ids)

    return asyncio.run(main())


def test_every_family_is_fetched_completely_and_its_messages_map(settings, topics, db):
    compiled = _store_configs(db)
    port = unused_port()
    sim = Simulator(seed=11, hotels=6, base_url=f"http://127.0.0.1:{port}", initial_bookings=120)
    ours, env = _register(db, sim)
    results = _run(sim, port, settings, env, list(ours))

    assert all(r.ok for r in results), [(r.hotel_id, r.error) for r in results]
    families = {(h["pms_type"], h["pms_version"]) for h in sim.hotels(False)}
    assert len(families) == 6, "the simulator should serve every shipped family/version"

    messages = _consume(settings)
    per_hotel = Counter(m.key.decode() for m in messages)
    mapped: dict[str, set[str]] = {}
    for m in messages:
        headers = H.header_dict(m.headers)
        config = compiled[(H.text(headers, H.PMS_TYPE), H.text(headers, H.PMS_VERSION))]
        record = json.loads(m.value)
        context = json.loads(headers[H.CONTEXT]) if H.CONTEXT in headers else None
        try:
            booking = config.process(record, context)
        except PMSError:
            continue  # the simulator's deliberately invalid records
        mapped.setdefault(m.key.decode(), set()).add(booking["external_id"])

    for hotel_id, sim_id in ours.items():
        truth = sim.truth(sim_id)
        assert truth["bookings"], f"{sim_id} should hold bookings for this test to mean anything"
        # Every record the PMS holds, valid or not, was published exactly once (no faults here).
        assert per_hotel[hotel_id] == len(truth["bookings"]) + len(truth["invalid"]), hotel_id
        # And the mapper can read what was published, lookup context included.
        assert mapped.get(hotel_id, set()) == {b["external_id"] for b in truth["bookings"]}, hotel_id
        result = next(r for r in results if r.hotel_id == hotel_id)
        assert result.records == per_hotel[hotel_id]


def test_simulated_faults_are_retried_or_recorded_per_hotel(settings, topics, db):
    _store_configs(db)
    port = unused_port()
    sim = Simulator(seed=5, hotels=6, base_url=f"http://127.0.0.1:{port}", initial_bookings=40)
    ids = [h["id"] for h in sim.hotels(False)]
    flaky, broken, garbled, hanging = ids[0], ids[1], ids[2], ids[3]
    sim.faults.load({"hotels": {
        flaky: {"rate_limit_rate": 0.3, "error_rate": 0.2, "retry_after_seconds": 0},
        broken: {"error_rate": 1.0},
        garbled: {"truncated_rate": 1.0},
        hanging: {"timeout_rate": 1.0, "hang_seconds": 20},
    }})
    ours, env = _register(db, sim)
    by_sim = {sim_id: hotel_id for hotel_id, sim_id in ours.items()}
    # Every simulated hotel shares one host, so three always-failing hotels would soon open the
    # host's circuit for all; this test is about each hotel's own fault (the breaker has its
    # own tests), so the circuit is kept out of the way.
    options = dataclasses.replace(OPTIONS, retry=dataclasses.replace(OPTIONS.retry, attempts=6),
                                  breaker_failures=1000)
    results = _run(sim, port, settings, env, list(ours), options)
    by_id = {r.hotel_id: r for r in results}

    assert by_id[by_sim[flaky]].ok, by_id[by_sim[flaky]].error
    assert "HTTP 5" in by_id[by_sim[broken]].error
    assert "not valid JSON" in by_id[by_sim[garbled]].error
    assert "did not answer" in by_id[by_sim[hanging]].error
    healthy = [by_sim[i] for i in ids[4:]]
    assert all(by_id[h].ok for h in healthy)
    # The hanging hotel finished last: nobody waited for it.
    assert results[-1].hotel_id == by_sim[hanging]
    for sim_id in (broken, garbled, hanging):
        row = db.execute("SELECT delta_cursor, consecutive_failures, last_error FROM sync_checkpoints "
                         "WHERE hotel_id = %s", (by_sim[sim_id],)).fetchone()
        assert row[0] is None and row[1] == 1 and row[2] == by_id[by_sim[sim_id]].error
