"""A whole pipeline for end-to-end tests: the simulator and every worker as real processes
(``pmsync simulator|validator|mapper|loader|dlq sink``), the fetcher run pass by pass in the
test, all on the test's own topics, consumer groups and database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import timezone
from decimal import Decimal
from pathlib import Path

import psycopg

from pmsync.config import load_config_dir
from pmsync.config_store import publish_configs
from pmsync.fetching.runner import Fetcher
from pmsync.kafka.topics import create_topics, delete_topics
from pmsync.runner import COMMANDS, Service, service
from pmsync.settings import Settings
from pmsync.simlink import register_hotels, sim_get, sim_post
from pmsync.stack.process import wait_until
from tests.ports import unused_port

CONFIG_DIR = Path(__file__).resolve().parents[2] / "pms_configs"
WORKERS = ("validator", "mapper", "loader", "dlq-sink")


class Pipeline:
    def __init__(self, settings: Settings, run_dir: Path) -> None:
        self.settings = settings
        self.run_dir = run_dir
        self.services: dict[str, Service] = {}
        self.sim_url = ""
        self.hotels: dict[str, str] = {}   # our hotel id → simulator hotel id

    # -- set-up --------------------------------------------------------------------------
    def start(self, *, hotels: int, bookings: int, seed: int, invalid_rate: float,
              faults: dict | None = None) -> "Pipeline":
        create_topics(self.settings)
        publish_configs(self.settings, load_config_dir(CONFIG_DIR))
        port = unused_port()
        self.sim_url = f"http://127.0.0.1:{port}"
        options = ["--hotels", str(hotels), "--seed", str(seed), "--port", str(port),
                "--bookings", str(bookings), "--invalid-rate", str(invalid_rate)]
        if faults:
            path = self.run_dir / "faults.json"
            path.write_text(json.dumps(faults))
            options += ["--faults", str(path)]
        self._start("simulator", options)
        wait_until(self._sim_up, 30, "the simulator", error=TimeoutError)
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            self.hotels = register_hotels(conn, self.settings, self.sim_url,
                                          id_prefix=f"e{uuid.uuid4().hex[:5]}-")
        for name in WORKERS:
            self.start_worker(name)
        return self

    def _start(self, name: str, options: list[str]) -> Service:
        svc = service(name, [*COMMANDS[name], *options], self.settings, self.run_dir,
                      PMSYNC_SECRETS_DIR=str(self.run_dir / "secrets"))
        self.services[name] = svc.start()
        return svc

    def start_worker(self, name: str) -> Service:
        return self._start(name, ["--max-wait-ms", "200"] if name == "loader" else [])

    def _sim_up(self) -> bool:
        try:
            return sim_get(self.sim_url, "/_sim/healthz", timeout=2)["status"] == "ok"
        except OSError:
            return False

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop(timeout=20)
        delete_topics(self.settings)

    # -- driving ---------------------------------------------------------------------------
    def fetch(self, hotel_ids: list[str] | None = None) -> list:
        async def once() -> list:
            async with Fetcher(self.settings) as fetcher:
                return await fetcher.run_once(hotel_ids or list(self.hotels))
        return asyncio.run(once())

    def fetch_until_all_succeed(self, attempts: int = 5) -> None:
        pending = list(self.hotels)
        for _ in range(attempts):
            results = self.fetch(pending)
            pending = [r.hotel_id for r in results if not r.ok]
            if not pending:
                return
        raise AssertionError(f"hotels still failing after {attempts} passes: {pending}")

    def tick(self) -> dict:
        """Advance the simulated PMS. Waits a second after it: two ticks in one second stamp a
        change one second ahead (the simulator keeps each version strictly newer), and a fetch
        bounded by `until` = now would rightly not see it yet."""
        result = sim_post(self.sim_url, "/_sim/tick")
        time.sleep(1.05)
        return result

    def truth(self) -> dict[str, dict]:
        """Per our hotel id: {"bookings": {external_id: canonical}, "invalid": Counter}."""
        hotels = sim_get(self.sim_url, "/_sim/truth")["hotels"]
        out = {}
        for ours, sim_id in self.hotels.items():
            entry = hotels[sim_id]
            out[ours] = {"bookings": {b["external_id"]: b for b in entry["bookings"]},
                         "invalid": Counter((i["stage"], i["error_class"]) for i in entry["invalid"])}
        return out

    # -- observing ---------------------------------------------------------------------------
    def loaded(self) -> dict[str, dict[str, dict]]:
        with psycopg.connect(self.settings.database_url) as conn:
            rows = conn.execute(
                """SELECT b.hotel_id, b.external_id, b.status, b.check_in, b.check_out,
                          g.first_name, g.last_name, g.email, g.phone, b.room_number, b.room_type,
                          b.adults, b.children, b.total_amount, b.currency, b.source_updated_at
                     FROM bookings b LEFT JOIN guests g USING (hotel_id, external_id)
                    WHERE b.hotel_id = ANY(%s)""", (list(self.hotels),)).fetchall()
        out: dict[str, dict[str, dict]] = {h: {} for h in self.hotels}
        for r in rows:
            out[r[0]][r[1]] = canonical(r)
        return out

    def rejects(self) -> dict[str, Counter]:
        with psycopg.connect(self.settings.database_url) as conn:
            rows = conn.execute("SELECT hotel_id, stage, error_class FROM dlq_messages "
                                "WHERE hotel_id = ANY(%s)", (list(self.hotels),)).fetchall()
        out = {h: Counter() for h in self.hotels}
        for hotel_id, stage, error_class in rows:
            out[hotel_id][(stage, error_class)] += 1
        return out

    def wait_until_matches_truth(self, timeout: float = 120) -> dict:
        truth = self.truth()

        def matches() -> bool:
            loaded, rejects = self.loaded(), self.rejects()
            return all(loaded[h] == t["bookings"] and rejects[h] == t["invalid"] for h, t in truth.items())

        try:
            wait_until(matches, timeout, "the pipeline to reach the simulator's truth", interval=1,
                       error=TimeoutError)
        except TimeoutError:
            raise AssertionError(self.describe_difference(truth)) from None
        return truth

    def _cursor(self, hotel_id: str) -> str:
        with psycopg.connect(self.settings.database_url) as conn:
            row = conn.execute("SELECT delta_cursor, last_success_at FROM sync_checkpoints WHERE hotel_id = %s",
                               (hotel_id,)).fetchone()
        return str(row)

    def describe_difference(self, truth: dict) -> str:
        loaded, rejects = self.loaded(), self.rejects()
        lines = []
        for h, t in truth.items():
            missing = sorted(set(t["bookings"]) - set(loaded[h]))
            extra = sorted(set(loaded[h]) - set(t["bookings"]))
            wrong = [k for k in set(t["bookings"]) & set(loaded[h]) if t["bookings"][k] != loaded[h][k]]
            if missing or extra or wrong or rejects[h] != t["invalid"]:
                lines.append(f"{h}: missing {missing[:5]} extra {extra[:5]} differing {wrong[:3]} "
                             f"rejects {dict(rejects[h])} want {dict(t['invalid'])}")
                for k in missing[:2]:
                    lines.append(f"  missing {k}: {t['bookings'][k]} (checkpoint {self._cursor(h)})")
                for k in wrong[:1]:
                    lines.append(f"  {k}: loaded {loaded[h][k]}\n  {k}: truth  {t['bookings'][k]}")
        for name, svc in self.services.items():
            if not svc.running():
                lines.append(f"{name} is not running:\n{svc.log_tail(15)}")
        return "\n".join(lines) or "no difference"


def canonical(r) -> dict:
    amount: Decimal | None = r[13]
    return {"external_id": r[1], "status": r[2], "check_in": r[3].isoformat(), "check_out": r[4].isoformat(),
            "guest": {"first_name": r[5], "last_name": r[6], "email": r[7], "phone": r[8]},
            "room_number": r[9], "room_type": r[10], "adults": r[11], "children": r[12],
            "total_amount": f"{amount:.2f}" if amount is not None else None, "currency": r[14],
            "source_updated_at": r[15].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
