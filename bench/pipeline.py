"""End-to-end pipeline benchmark: bookings/s from the raw topic to Postgres rows.

Run: ``.venv/bin/python bench/pipeline.py [--bookings 200000] [--hotels 1000] [--rounds 3]``

On the running dev stack (``pmsync stack up``), in a throwaway database and topics of its own:
  1. builds N raw reservations across H hotels of all shipped PMS configs (records cloned
     from each golden sample's valid records, one external id each; fetcher-style headers)
     and produces them to the raw topic before anything is timed;
  2. then, in each round (fresh consumer groups, downstream topics and tables):
     - passthrough baseline, same bytes: a relay process (consume raw → produce unchanged)
       and a copier process (consume → COPY into a plain unkeyed table), both on aiokafka like
       the workers, timed from their start until all N rows are in;
     - pipeline: `pmsync validator`, `pmsync mapper`, `pmsync loader` (one process each),
       timed the same way until all N bookings are rows in `bookings`;
     Rounds alternate the two because this machine is shared: its load drifts by tens of
     percent over minutes, and alternating spreads that over both columns. Progress is read
     from the last stage's committed offsets (see ``Committed``), and the row counts are
     checked once after each round;
  3. each worker alone on its filled input topic (the stage rates).
Prints bookings/s and the ratio per round, from process start and in steady state (from the
first row in Postgres to the last, which leaves start-up out), the median ratio, and each
process's peak memory (VmHWM). It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mapping import workload  # noqa: E402  (bench/mapping.py: golden records cloned with new ids)

from pmsync.config import compile_config, load_config_dir  # noqa: E402
from pmsync.config_store import publish_configs  # noqa: E402
from pmsync.db.connect import with_database  # noqa: E402
from pmsync.db.migrate import migrate  # noqa: E402
from pmsync.kafka import headers as h  # noqa: E402
from pmsync.kafka.consumers import BATCH_FETCH  # noqa: E402
from pmsync.kafka.topics import TopicSpec, create_topics, delete_topics, topic_specs  # noqa: E402
from pmsync.runner import pipeline_service  # noqa: E402
from pmsync.runtime import tune_for_batches  # noqa: E402
from pmsync.settings import Settings, Topics  # noqa: E402


def bench_settings(base: Settings, dsn: str) -> Settings:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics = Topics(**{f.name: prefix + f.default for f in dataclasses.fields(Topics)})
    return dataclasses.replace(base, database_url=dsn, topics=topics, group_prefix=prefix[:-1])


async def produce(settings: Settings, messages: list) -> None:
    from aiokafka import AIOKafkaProducer
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = [await producer.send(settings.topics.raw, value, key=key, headers=headers)
                   for key, value, headers in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def build_messages(bookings: int, hotels: int) -> list:
    configs = [compile_config(c) for c in load_config_dir(ROOT / "pms_configs")]
    per_config = -(-bookings // len(configs))
    messages = []
    for index, compiled in enumerate(configs):
        own_hotels = [f"bh{n:04d}" for n in range(index, hotels, len(configs))]
        path = ROOT / "pms_configs" / compiled.pms_type / f"{compiled.version}.json"
        for i, (value, context) in enumerate(workload(compiled, path, per_config)):
            if len(messages) == bookings:
                break
            hotel = own_hotels[i % len(own_hotels)].encode()
            headers = [(h.HOTEL_ID, hotel), (h.PMS_TYPE, compiled.pms_type.encode()),
                       (h.PMS_VERSION, compiled.version.encode())]
            if context is not None:
                headers.append((h.CONTEXT, context))
            messages.append((hotel, value, headers))
    return messages


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")


@dataclasses.dataclass
class Timing:
    seconds: float        # from starting the processes until the last row is in
    first_row: float      # from starting the processes until the first row is in (start-up)
    memory: dict[str, float]

    def rate(self, total: int) -> float:
        return total / self.seconds

    def steady_rate(self, total: int) -> float:
        """Rows/s once rows flow: start-up (imports, group join, config load) left out."""
        return total / (self.seconds - self.first_row)


class Committed:
    """Messages a consumer group has committed, summed over partitions: how far the last stage
    got. Polled instead of ``SELECT count(*)``: a count scans the whole growing table, and at 20
    polls a second that took a large share of these 2 cores (more from the passthrough, whose
    rows are wider and arrive faster). Both last stages commit right after their database
    commit, and every round's topics are new, so offsets count rows from zero."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaAdminClient
        self.admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="bench-progress")

    def __call__(self, group: str) -> int:
        offsets = self.admin.list_group_offsets(group).get(group, {})
        return sum(o.offset for o in offsets.values() if o.offset > 0)

    def close(self) -> None:
        self.admin.close()


def timed(services, progress: Callable[[], int], total: int, timeout: float = 1800) -> Timing:
    started = time.monotonic()
    first_row = None
    for svc in services:
        svc.start()
    try:
        while (done := progress()) < total:
            if done and first_row is None:
                first_row = time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise SystemExit("timed out; logs:\n" + "\n".join(s.log_tail(10) for s in services))
            for svc in services:
                if not svc.running():
                    raise SystemExit(f"{svc.name} died:\n{svc.log_tail(30)}")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        memory = {svc.name: peak_rss_mb(svc.proc.pid) for svc in services}
        return Timing(seconds, seconds if first_row is None else first_row, memory)
    finally:
        for svc in services:
            svc.stop()


# -- the passthrough baseline's two processes ------------------------------------------------
def passthrough_topic(settings: Settings) -> str:
    return f"{settings.group_prefix}.passthrough"  # one per round (see round_settings)


def round_settings(settings: Settings, number: int) -> Settings:
    """Settings for one round: the same raw and configs topics, fresh consumer groups and fresh
    downstream topics, so every round reads the same raw messages and nothing of an earlier one."""
    suffix = f".r{number}"
    topics = dataclasses.replace(settings.topics, validated=settings.topics.validated + suffix,
                                 bookings=settings.topics.bookings + suffix, dlq=settings.topics.dlq + suffix)
    return dataclasses.replace(settings, topics=topics, group_prefix=f"{settings.group_prefix}-r{number}")


async def relay(settings: Settings) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    consumer = AIOKafkaConsumer(settings.topics.raw, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=settings.group_id("relay"), enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=2000, **BATCH_FETCH)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5,
                                max_batch_size=256 * 1024)
    await consumer.start()
    await producer.start()
    while True:
        batch = await consumer.getmany(timeout_ms=500, max_records=2000)
        pending = [await producer.send(passthrough_topic(settings), m.value, key=m.key, headers=list(m.headers))
                   for records in batch.values() for m in records]
        await asyncio.gather(*pending)
        if batch:
            await consumer.commit()


async def copier(settings: Settings) -> None:
    from aiokafka import AIOKafkaConsumer
    consumer = AIOKafkaConsumer(passthrough_topic(settings), bootstrap_servers=settings.kafka_bootstrap,
                                group_id=settings.group_id("copier"), enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=5000,
                                **BATCH_FETCH)  # the loader's fetch settings: the same client work
    await consumer.start()
    with psycopg.connect(settings.database_url) as conn:
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            if not batch:
                continue
            with conn.cursor() as cur, cur.copy("COPY passthrough (hotel_id, payload) FROM STDIN") as copy:
                for records in batch.values():
                    for m in records:
                        copy.write_row((m.key.decode(), m.value.decode()))
            conn.commit()
            await consumer.commit()


def stage_rates(settings: Settings, run_dir: Path, dsn: str) -> dict[str, tuple[int, float]]:
    """Each worker alone on its (already filled) input topic, under a consumer group of its own."""
    from pmsync.kafka.lag import lag
    out = {}
    for name, topic in (("validator", settings.topics.raw), ("mapper", settings.topics.validated),
                        ("loader", settings.topics.bookings)):
        alone = dataclasses.replace(settings, group_prefix=f"{settings.group_prefix}-alone-{name}")
        if name == "loader":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE bookings, rooms")
        group = alone.group_id(name)
        messages = None
        svc = pipeline_service(name, alone, run_dir, label=f"{name}-alone")
        started = time.monotonic()
        svc.start()
        try:
            while True:
                remaining = lag(alone, [(group, topic)])[group]
                if messages is None:
                    messages = remaining
                if remaining == 0 and time.monotonic() - started > 1:
                    break
                time.sleep(0.2)
        finally:
            seconds = time.monotonic() - started
            svc.stop()
        out[name] = (messages or 0, seconds)
    return out


class _Script:
    """This file run in a child process as one baseline role (same shape as runner.Service)."""

    def __init__(self, name: str, settings: Settings, run_dir: Path) -> None:
        self.name, self.settings, self.run_dir, self.proc = name, settings, run_dir, None

    def start(self) -> None:
        log = open(self.run_dir / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, __file__, "--role", self.name],
                                     env={**os.environ, **self.settings.to_env()}, stdout=log,
                                     stderr=subprocess.STDOUT)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join((self.run_dir / f"{self.name}.log").read_text().splitlines()[-lines:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=200_000)
    parser.add_argument("--hotels", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating baseline/pipeline rounds")
    parser.add_argument("--role", choices=["relay", "copier"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    base_settings = Settings.from_env()
    if args.role:
        tune_for_batches()  # the workers' interpreter settings (pmsync/runtime.py), for a like-for-like ratio
    if args.role == "relay":
        asyncio.run(relay(base_settings))
        return
    if args.role == "copier":
        asyncio.run(copier(base_settings))
        return

    db_name = f"pmsync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_settings.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    dsn = with_database(base_settings.database_url, db_name)
    settings = bench_settings(base_settings, dsn)
    run_dir = base_settings.stack_dir / "bench" / settings.group_prefix
    created_topics: list[str] = []
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE UNLOGGED TABLE IF NOT EXISTS passthrough (hotel_id text, payload text)")
            conn.execute("ALTER TABLE passthrough SET LOGGED")
        create_topics(settings)
        publish_configs(settings, load_config_dir(ROOT / "pms_configs"))
        print(f"building {args.bookings:,} reservations across {args.hotels:,} hotels …", flush=True)
        messages = build_messages(args.bookings, args.hotels)
        asyncio.run(produce(settings, messages))
        total = len(messages)
        print(f"produced {total:,} raw messages to {settings.topics.raw} ({settings.partitions} partitions)")

        def count(table: str) -> int:
            with psycopg.connect(dsn) as conn:
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

        # Rounds alternate baseline and pipeline, so a neighbour's load or a checkpoint on this
        # shared machine falls on both alike; every round starts from empty tables.
        rounds: list[tuple[Timing, Timing]] = []
        committed = Committed(settings)
        for number in range(1, args.rounds + 1):
            this = round_settings(settings, number)
            create_topics(this, topic_specs(this) + [TopicSpec(passthrough_topic(this), this.partitions)])
            created_topics += [this.topics.validated, this.topics.bookings, this.topics.dlq, passthrough_topic(this)]
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE bookings, rooms, passthrough")
            base = timed([_Script("relay", this, run_dir), _Script("copier", this, run_dir)],
                         lambda: committed(this.group_id("copier")), total)
            workers = [pipeline_service(n, this, run_dir, label=f"{n}-r{number}")
                       for n in ("validator", "mapper", "loader")]
            pipe = timed(workers, lambda: committed(this.group_id("loader")), total)
            for table in ("passthrough", "bookings"):  # a check, outside the timing
                if (rows := count(table)) != total:
                    raise SystemExit(f"round {number}: {rows:,} rows in {table}, expected {total:,}")
            rounds.append((base, pipe))
            print(f"round {number}: passthrough {base.rate(total):,.0f}/s, pipeline {pipe.rate(total):,.0f}/s "
                  f"({pipe.rate(total) / base.rate(total):.2f}x)", flush=True)
        committed.close()
        stages = stage_rates(round_settings(settings, 1), run_dir, dsn)
    finally:
        with psycopg.connect(base_settings.database_url, autocommit=True) as conn:
            # Not WITH (FORCE): that needs rights over autovacuum's session too, which this
            # role may lack; the workers are stopped, so only autovacuum can hold it briefly.
            for attempt in range(10):
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
                    break
                except psycopg.errors.ObjectInUse:
                    time.sleep(1)
        try:
            delete_topics(settings, also=created_topics)
        except Exception:  # noqa: BLE001 - best-effort clean-up of throwaway topics
            pass

    print(f"\nmachine: {os.cpu_count()} cores; {total:,} bookings, {args.hotels:,} hotels, "
          f"{len(load_config_dir(ROOT / 'pms_configs'))} PMS configs; timed from process start")
    print(f"{'round':<7}{'path':<46}{'seconds':>9}{'bookings/s':>12}{'ratio':>7}{'first row':>11}"
          f"{'steady/s':>10}{'ratio':>7}")
    for number, (base, pipe) in enumerate(rounds, 1):
        for name, timing in (("passthrough (relay + COPY into plain table)", base),
                             ("pipeline (validator + mapper + loader)", pipe)):
            print(f"{number:<7}{name:<46}{timing.seconds:>9.1f}{timing.rate(total):>12,.0f}"
                  f"{timing.rate(total) / base.rate(total):>7.2f}{timing.first_row:>10.1f}s"
                  f"{timing.steady_rate(total):>10,.0f}{timing.steady_rate(total) / base.steady_rate(total):>7.2f}")
    ratios = sorted(pipe.rate(total) / base.rate(total) for base, pipe in rounds)
    print(f"pipeline / passthrough over {len(rounds)} rounds: median {statistics.median(ratios):.2f}x "
          f"(min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x); the bar (issue 5) is 0.5x")
    memory = {**rounds[-1][1].memory, **rounds[-1][0].memory}
    print("peak memory (VmHWM), last round: " + ", ".join(f"{k} {v:.0f} MB" for k, v in memory.items()))
    print("each stage alone (fresh consumer group, its whole input topic, nothing else running):")
    for name, (messages, seconds) in stages.items():
        print(f"  {name:<10} {messages:>9,} messages in {seconds:6.1f}s = {messages / seconds:>9,.0f}/s")


if __name__ == "__main__":
    main()
