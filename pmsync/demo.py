"""``pmsync demo``: the whole product on one machine, from nothing, in one command.

Stack up → migrations → topics → shipped configs published → the PMS simulator with ~50 hotels
of every family (a few with faults) → hotels registered → every service started → wait for the
first full sync to be loaded → a summary. Services keep running (and the simulator keeps
changing bookings) until ``pmsync demo --down``. Running it again starts only what is missing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psycopg

from pmsync.apikeys import create_key
from pmsync.config import load_config_dir
from pmsync.config_store import publish_configs
from pmsync.db.migrate import migrate
from pmsync.kafka.lag import lag
from pmsync.kafka.topics import create_topics
from pmsync.runner import Service, pipeline_service
from pmsync.settings import REPO_ROOT, Settings
from pmsync.simlink import register_hotels, sim_get
from pmsync.stack import native
from pmsync.stack.process import wait_until

# A few hotels misbehave, so the summary shows retries, sync errors and the DLQ at work.
DEMO_FAULTS = {"hotels": {
    "sim-004": {"error_rate": 0.3},
    "sim-009": {"rate_limit_rate": 0.3, "retry_after_seconds": 1},
    "sim-015": {"latency_ms": 400},
    "sim-021": {"truncated_rate": 0.2, "malformed_rate": 0.1},
    "sim-027": {"duplicate_rate": 0.5, "out_of_order_rate": 0.5},
    "sim-033": {"timeout_rate": 1.0, "hang_seconds": 60},   # down for the whole demo
}}
ALWAYS_DOWN = {"sim-033"}


def _services(settings: Settings, run_dir: Path) -> list[Service]:
    options = {
        "simulator": ["--hotels", "50", "--seed", "7", "--port", str(settings.simulator_port),
                      "--tick-seconds", "10", "--bookings", "300", "--faults", str(run_dir / "faults.json")],
        "api": ["--port", str(settings.api_port)],
        "fetcher": ["--metrics-port", "9102"],
    }
    names = ("simulator", "validator", "mapper", "loader", "dlq-sink", "api", "fetcher")
    return [pipeline_service(name, settings, run_dir, *options.get(name, [])) for name in names]


def up(settings: Settings, echo=print) -> None:
    started = time.monotonic()
    run_dir = settings.stack_dir / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "faults.json").write_text(json.dumps(DEMO_FAULTS))
    echo("stack:      " + ", ".join(f"{k} {v}" for k, v in native.up(settings).items()))
    applied = migrate(settings.database_url)
    echo(f"migrations: {', '.join(applied) or 'up to date'}")
    create_topics(settings)
    configs = load_config_dir(REPO_ROOT / "pms_configs")
    publish_configs(settings, configs)
    echo(f"configs:    {len(configs)} published ({', '.join(c.key for c in configs)})")

    services = {s.name: s for s in _services(settings, run_dir)}
    sim_url = f"http://127.0.0.1:{settings.simulator_port}"
    _ensure(services["simulator"])
    wait_until(lambda: _answers(sim_url), 60, "the PMS simulator", error=TimeoutError)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        hotels = register_hotels(conn, settings, sim_url, poll_interval_s=15)
    echo(f"hotels:     {len(hotels)} registered from the simulator at {sim_url}")
    pipeline_started = time.monotonic()
    for name in ("validator", "mapper", "loader", "dlq-sink", "api", "fetcher"):
        _ensure(services[name])
    echo("services:   " + ", ".join(f"{n} (log {s.log_file})" for n, s in services.items()))

    expected = [h for h, sim_id in hotels.items() if sim_id not in ALWAYS_DOWN]
    wait_until(lambda: _first_sync_done(settings, expected, services), 600,
               "the first full sync of every reachable hotel", interval=2, error=TimeoutError)
    loaded_at = time.monotonic()
    _summary(settings, hotels, loaded_at - pipeline_started, echo)
    _keys(settings, run_dir, expected[0], echo)
    echo(f"\ndemo ready in {time.monotonic() - started:.0f}s; stop it with `pmsync demo --down`")


def down(settings: Settings, echo=print) -> None:
    run_dir = settings.stack_dir / "demo"
    for svc in reversed(_services(settings, run_dir)):
        if svc.running():
            svc.stop()
            echo(f"stopped {svc.name}")
    for name, outcome in native.down(settings).items():
        echo(f"{name}: {outcome}")


def _ensure(svc: Service) -> None:
    if not svc.running():
        svc.start()
        time.sleep(0.5)
        if not svc.running():
            raise RuntimeError(f"{svc.name} exited at start:\n{svc.log_tail()}")


def _answers(url: str) -> bool:
    try:
        return bool(sim_get(url, "/_sim/healthz", timeout=2))
    except OSError:
        return False


def _first_sync_done(settings: Settings, expected: list[str], services: dict[str, Service]) -> bool:
    for svc in services.values():
        if not svc.running():
            raise RuntimeError(f"{svc.name} stopped:\n{svc.log_tail()}")
    with psycopg.connect(settings.database_url) as conn:
        synced = conn.execute("SELECT count(*) FROM sync_checkpoints WHERE hotel_id = ANY(%s) "
                              "AND last_success_at IS NOT NULL", (expected,)).fetchone()[0]
    return synced == len(expected) and not any(lag(settings).values())


def _summary(settings: Settings, hotels: dict[str, str], seconds: float, echo) -> None:
    with psycopg.connect(settings.database_url) as conn:
        synced = conn.execute("SELECT count(*) FROM sync_checkpoints WHERE last_success_at IS NOT NULL "
                              "AND hotel_id = ANY(%s)", (list(hotels),)).fetchone()[0]
        failing = conn.execute("SELECT hotel_id, last_error FROM sync_checkpoints WHERE hotel_id = ANY(%s) "
                               "AND last_success_at IS NULL", (list(hotels),)).fetchall()
        bookings = conn.execute("SELECT count(*) FROM bookings").fetchone()[0]
        by_status = conn.execute("SELECT status, count(*) FROM bookings GROUP BY 1 ORDER BY 2 DESC").fetchall()
        rejects = conn.execute("SELECT stage, error_class, count(*) FROM dlq_messages GROUP BY 1, 2 "
                               "ORDER BY 3 DESC").fetchall()
        reasons = conn.execute("SELECT stage, left(error_message, 100), count(*) FROM dlq_messages "
                               "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 8").fetchall()
    echo("\n== first sync loaded")
    echo(f"hotels synced:   {synced} of {len(hotels)}")
    for hotel_id, error in failing:
        echo(f"  not synced:    {hotel_id}: {(error or 'no attempt finished yet')[:120]}")
    echo(f"bookings loaded: {bookings} ({', '.join(f'{s} {n}' for s, n in by_status)})")
    echo(f"throughput:      {bookings / seconds:,.0f} bookings/s over {seconds:.1f}s "
         "(services start → first full sync loaded)")
    echo(f"rejects:         {sum(r[2] for r in rejects)} in the DLQ")
    for stage, error_class, count in rejects:
        echo(f"  {stage:<14} {error_class:<24} {count}")
    echo("top reasons:")
    for stage, reason, count in reasons:
        echo(f"  {count:>4}  [{stage}] {reason}")


def _keys(settings: Settings, run_dir: Path, hotel_id: str, echo) -> None:
    hotel_key = create_key(settings.database_url, hotel_id=hotel_id, name="demo")
    admin_key = create_key(settings.database_url, admin=True, name="demo admin")
    keys_file = run_dir / "api-keys.json"
    keys_file.write_text(json.dumps({"hotel_id": hotel_id, "hotel_key": hotel_key.key,
                                     "admin_key": admin_key.key}))
    os.chmod(keys_file, 0o600)
    api = f"http://127.0.0.1:{settings.api_port}"
    echo(f"\nAPI: {api}  (OpenAPI {api}/openapi.json, docs {api}/docs)")
    echo(f"new demo keys (shown once, also in {keys_file}):")
    echo(f"  export HOTEL_KEY={hotel_key.key}   # hotel {hotel_id}")
    echo(f"  export ADMIN_KEY={admin_key.key}")
    echo(f"  curl -s -H \"Authorization: Bearer $HOTEL_KEY\" '{api}/api/integrations/pms/bookings/?limit=2'")
