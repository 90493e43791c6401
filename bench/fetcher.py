"""Fetcher benchmark: one fetcher process keeping 10,000 hotels on schedule.

Run: ``.venv/bin/python bench/fetcher.py [--hotels 10000] [--interval 300] [--duration 300]``

On the running dev stack (``pmsync stack up``), in a throwaway database, topics and secrets
folder of its own, traffic to 127.0.0.1 only:
  1. starts the PMS simulator in ``--sim-processes`` processes, each serving the same seeded
     world of ``--hotels`` Mews hotels (UUID property ids: no two hotels collide at any count)
     with ``--initial-bookings`` each, every response delayed 50-500 ms (``latency_ms`` /
     ``latency_max_ms``), and a bad group (``--bad-share``, default 5%): half of it hangs
     longer than the request timeout, half answers 5xx;
  2. registers the hotels through the registry code (``pmsync.simlink.register_hotels``),
     spread over the simulator processes, all polled every ``--interval`` seconds;
  3. runs one ``Fetcher`` in this process for ``--duration`` seconds, its first polls spread
     over one interval (what a long-running service looks like), and records for each sync
     how late it started against its due time.
Prints a table: schedule lag p50/p99/max for the healthy hotels and for the bad group, syncs
started per second against the rate the schedule needs, outcomes, this process's CPU and
peak RSS, and the simulator processes' CPU (to see which side is the bottleneck). It asserts
nothing and stops after ``--duration`` (plus set-up, about a minute for 10,000 hotels).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import bench_settings, peak_rss_mb  # noqa: E402  (bench/pipeline.py)

from pmsync.config import load_config_dir  # noqa: E402
from pmsync.config_store import store_config  # noqa: E402
from pmsync.db.connect import with_database  # noqa: E402
from pmsync.db.migrate import migrate  # noqa: E402
from pmsync.fetching import metrics  # noqa: E402
from pmsync.fetching.retry import RetryPolicy  # noqa: E402
from pmsync.fetching.runner import Fetcher, FetcherOptions  # noqa: E402
from pmsync.kafka.topics import create_topics, delete_topics  # noqa: E402
from pmsync.settings import Settings  # noqa: E402
from pmsync.simlink import register_hotels, sim_get  # noqa: E402

MEWS = [("mews", "2023-06-06"), ("mews", "2017-04-12")]
SEED = 14


def faults(hotels: int, bad_share: float, latency: tuple[int, int]) -> tuple[dict, set[str], set[str]]:
    """The simulator's fault settings and the sim ids of the hanging and the failing hotels."""
    step = max(1, round(1 / bad_share)) if bad_share > 0 else hotels + 1
    bad = [f"sim-{i + 1:03d}" for i in range(0, hotels, step)]
    hanging, failing = set(bad[0::2]), set(bad[1::2])
    base = {"latency_ms": latency[0], "latency_max_ms": latency[1]}
    per_hotel = {**{h: {**base, "timeout_rate": 1.0, "hang_seconds": 600} for h in hanging},
                 **{h: {**base, "error_rate": 1.0} for h in failing}}
    return {"default": base, "hotels": per_hotel}, hanging, failing


def serve_simulator(port: int, hotels: int, initial: int, fault_file: str) -> None:
    """``--role simulator``: one simulator process (the world is the same in each: same seed)."""
    from pmsync.simulator import Simulator, run
    sim = Simulator(seed=SEED, hotels=hotels, base_url=f"http://127.0.0.1:{port}",
                    initial_bookings=initial, families=MEWS,
                    faults=json.loads(Path(fault_file).read_text()))
    run(sim, host="127.0.0.1", port=port)


def cpu_s(pid: int | None = None) -> float:
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_up(url: str, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            sim_get(url, "/_sim/healthz", timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise SystemExit(f"the simulator at {url} did not come up in {limit_s:.0f}s")
            time.sleep(0.5)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_fetcher(settings: Settings, options: FetcherOptions, env: dict[str, str],
                      duration: float) -> tuple[list[tuple[str, float, float]], float, float]:
    """Run the service for ``duration`` seconds; (hotel, lag, started at) per started sync,
    CPU seconds and wall seconds of the run."""
    lags: list[tuple[str, float, float]] = []
    async with Fetcher(settings, options, environ=env,
                       on_start=lambda hotel, lag: lags.append((hotel, lag, time.monotonic()))
                       ) as fetcher:
        stop = asyncio.Event()
        cpu0, wall0 = cpu_s(), time.monotonic()
        service = asyncio.create_task(fetcher.run_forever(stop))
        await asyncio.sleep(duration)
        cpu, wall = cpu_s() - cpu0, time.monotonic() - wall0
        stop.set()
        await service
    return lags, cpu, wall


def outcomes() -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in metrics.SYNCS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                outcome = sample.labels["outcome"]
                totals[outcome] = totals.get(outcome, 0) + sample.value
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hotels", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=300, help="every hotel's poll interval, s")
    parser.add_argument("--duration", type=float, default=300, help="seconds the fetcher runs")
    parser.add_argument("--concurrency", type=int, default=FetcherOptions().concurrency)
    parser.add_argument("--timeout", type=float, default=10, help="seconds per request")
    parser.add_argument("--bad-share", type=float, default=0.05)
    parser.add_argument("--latency-ms", default="50-500")
    parser.add_argument("--initial-bookings", type=int, default=2)
    parser.add_argument("--sim-processes", type=int, default=2)
    parser.add_argument("--role", choices=["simulator"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--faults", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "simulator":
        serve_simulator(args.port, args.hotels, args.initial_bookings, args.faults)
        return

    # The bad group's "sync failed" warnings would drown the table (no log handler is set up).
    logging.disable(logging.WARNING)
    low, high = (int(x) for x in args.latency_ms.split("-"))
    fault_settings, hanging, failing = faults(args.hotels, args.bad_share, (low, high))
    base = Settings.from_env()
    db_name = f"pmsync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    settings = bench_settings(base, with_database(base.database_url, db_name))
    work = Path(tempfile.mkdtemp(prefix="pmsync-bench-fetcher-"))
    os.environ["PMSYNC_SECRETS_DIR"] = str(work / "secrets")   # credentials stay in the temp dir
    fault_file = work / "faults.json"
    fault_file.write_text(json.dumps(fault_settings))
    sims: list[subprocess.Popen] = []
    try:
        migrate(settings.database_url)
        create_topics(settings)
        with psycopg.connect(settings.database_url) as conn:
            for cfg in load_config_dir(ROOT / "pms_configs"):
                store_config(conn, cfg)
        from tests.ports import unused_port
        ports = [unused_port() for _ in range(args.sim_processes)]
        for port in ports:
            sims.append(subprocess.Popen(
                [sys.executable, __file__, "--role", "simulator", "--port", str(port),
                 "--hotels", str(args.hotels), "--initial-bookings", str(args.initial_bookings),
                 "--faults", str(fault_file)], stdout=subprocess.DEVNULL,
                stderr=open(work / f"sim-{port}.log", "w")))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        print(f"starting {len(sims)} simulator processes with {args.hotels:,} hotels each …", flush=True)
        for url in urls:
            wait_up(url)
        started = time.monotonic()
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            ours = register_hotels(conn, settings, urls[0], id_prefix="b-",
                                   poll_interval_s=args.interval)
            # Spread the hotels over the simulator processes (each serves the same world).
            order = sorted(ours)
            for i, url in enumerate(urls[1:], start=1):
                conn.execute("UPDATE hotels SET base_url = %s WHERE id = ANY(%s)",
                             (url, order[i::len(urls)]))
        print(f"registered {len(ours):,} hotels in {time.monotonic() - started:.0f}s; "
              f"running the fetcher for {args.duration:.0f}s …", flush=True)

        options = FetcherOptions(concurrency=args.concurrency, request_timeout_s=args.timeout,
                                 start_spread_s=args.interval, registry_refresh_s=30,
                                 retry=dataclasses.replace(RetryPolicy(), attempts=2))
        sim_cpu0 = [cpu_s(p.pid) for p in sims]
        lags, cpu, wall = asyncio.run(run_fetcher(settings, options, {}, args.duration))
        sim_cpu = [cpu_s(p.pid) - c for p, c in zip(sims, sim_cpu0)]

        bad = {f"b-{h}" for h in hanging | failing}
        healthy_lags = [lag for hotel, lag, _ in lags if hotel not in bad]
        bad_lags = [lag for hotel, lag, _ in lags if hotel in bad]
        # Worst lag per 10 s of the run: shows whether late starts come in bursts (and when).
        first = min((at for _, _, at in lags), default=0.0)
        worst: dict[int, float] = {}
        for _, lag, at in lags:
            slot = int((at - first) // 10)
            worst[slot] = max(worst.get(slot, 0.0), lag)
        done = outcomes()
        need = args.hotels / args.interval
        rows = [
            ("ran", f"{args.hotels:,} hotels, every {args.interval}s, {wall:.0f}s, concurrency "
                    f"{args.concurrency}, timeout {args.timeout:g}s x2 attempts, latency "
                    f"{low}-{high} ms, {len(hanging)} hanging + {len(failing)} failing, "
                    f"{args.sim_processes} simulator processes"),
            ("syncs started", f"{len(lags):,} ({len(lags) / wall:.1f}/s; the schedule needs "
                              f"{need:.1f}/s)"),
            ("outcomes", ", ".join(f"{k} {int(v):,}" for k, v in sorted(done.items()))),
            ("lag healthy p50 / p99 / max", f"{pct(healthy_lags, .5) * 1000:.0f} / "
                                            f"{pct(healthy_lags, .99) * 1000:.0f} / "
                                            f"{max(healthy_lags, default=float('nan')) * 1000:.0f} ms"
                                            f" ({len(healthy_lags):,} syncs)"),
            ("lag bad group p50 / p99", f"{pct(bad_lags, .5) * 1000:.0f} / "
                                        f"{pct(bad_lags, .99) * 1000:.0f} ms ({len(bad_lags):,} syncs)"),
            ("fetcher CPU", f"{cpu:.1f}s = {100 * cpu / wall:.0f}% of one core"),
            ("fetcher peak RSS", f"{peak_rss_mb(os.getpid()):.0f} MB"),
            ("simulator CPU", ", ".join(f"{100 * c / wall:.0f}%" for c in sim_cpu) + " of one core each"),
        ]
        width = max(len(k) for k, _ in rows)
        print()
        for key, value in rows:
            print(f"{key:<{width}}  {value}")
        print("worst lag per 10 s (s): " + " ".join(f"{worst[k]:.1f}" for k in sorted(worst)))
        print(f"(mean healthy lag {statistics.fmean(healthy_lags) * 1000:.0f} ms)" if healthy_lags else "")
    finally:
        for process in sims:
            process.terminate()
        for process in sims:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        delete_topics(settings)
        with psycopg.connect(base.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
