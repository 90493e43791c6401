"""No record is skipped when the PMS edits bookings during multi-page syncs, end to end: the
project's simulator over HTTP in churn mode (modification-time order, bookings edited between
the page requests of a walk), the real fetcher, real Kafka and the Postgres checkpoint store.

Every pagination style, with and without an upper time bound, runs at once:
page + until (cloudbeds 1.2), page without (cloudbeds 1.1), offset without (generic v2),
offset + until (generic v2 with ``updatedUntil``, a test-only config), cursor + until (mews
both versions), cursor without (mews 2017 without ``EndUtc``, a test-only config), and the
single request of generic v1.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pmsync.config import compile_config, config_hash, load_config
from pmsync.errors import PMSError
from pmsync.kafka import headers as H
from pmsync.simulator.simulator import Simulator
from tests.integration.test_fetcher_simulator import _consume, _register, _run, _store_configs
from tests.ports import unused_port

pytestmark = pytest.mark.integration

CONFIG_DIR = Path(__file__).resolve().parents[2] / "pms_configs"
SHIPPED = [("generic", "v1"), ("generic", "v2"), ("cloudbeds", "1.1"), ("cloudbeds", "1.2"),
           ("mews", "2017-04-12"), ("mews", "2023-06-06")]


def _variant(pms_type: str, version: str, name: str, change: Any) -> dict[str, Any]:
    body = copy.deepcopy(json.loads((CONFIG_DIR / pms_type / f"{version}.json").read_text()))
    body["pms_type"], body["version"] = "churntest", name
    change(body["source"]["request"])
    return body


# The two combinations no shipped config has.
VARIANTS = {
    ("generic", "v2"): _variant("generic", "v2", "offset-until",
                                lambda r: r["query"].update(updatedUntil="${until}")),
    ("mews", "2017-04-12"): _variant("mews", "2017-04-12", "cursor-open",
                                     lambda r: r["body"].pop("EndUtc")),
}


def _store_variants(db) -> None:
    for body in VARIANTS.values():
        load_config(body)   # the variants are valid configs
        db.execute("""INSERT INTO pms_configs (pms_type, version, body, config_hash)
                      VALUES (%s, %s, %s, %s) ON CONFLICT (pms_type, version) DO NOTHING""",
                   (body["pms_type"], body["version"], json.dumps(body), config_hash(body)))


def test_every_booking_reaches_the_raw_topic_while_the_pms_edits_during_walks(settings, topics, db):
    compiled = _store_configs(db)
    _store_variants(db)
    port = unused_port()
    # The shipped families, then one more hotel of each family a variant config reads.
    sim = Simulator(seed=14, hotels=8, base_url=f"http://127.0.0.1:{port}", initial_bookings=250,
                    families=SHIPPED + list(VARIANTS))
    ours, env = _register(db, sim)
    sim_hotels = {h["id"]: h for h in sim.hotels(False)}
    for hotel_id, sim_id in list(ours.items())[len(SHIPPED):]:
        family = (sim_hotels[sim_id]["pms_type"], sim_hotels[sim_id]["pms_version"])
        db.execute("UPDATE hotels SET pms_type = 'churntest', pms_version = %s WHERE id = %s",
                   (VARIANTS[family]["version"], hotel_id))
    sim.faults.load({"default": {"churn_rate": 0.15}})

    walks: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    # Syncs under churn: a walk disturbed by an edit is walked again; a hotel still changing
    # after four walks fails that sync and keeps its checkpoint. Rounds go on until every
    # hotel had a sync that settled.
    settled: set[str] = set()
    for _ in range(8):
        for r in _run(sim, port, settings, env, list(ours)):
            walks[r.hotel_id] = max(walks[r.hotel_id], r.walks)
            if r.ok:
                settled.add(r.hotel_id)
            else:
                failed[r.hotel_id] += 1
                assert "kept changing" in (r.error or ""), r.error
        if settled == set(ours):
            break
    assert settled == set(ours), f"never settled: {set(ours) - settled}"
    # The PMS calms down; one more sync reads what changed during the last ones.
    sim.faults.load({})
    final = _run(sim, port, settings, env, list(ours))
    assert all(r.ok for r in final), [(r.hotel_id, r.error) for r in final]
    edits = sim.churn.edits
    assert edits > 0 and max(walks.values()) > 2, "churn should have disturbed some walks"

    latest: dict[str, dict[str, dict]] = {}
    for m in _consume(settings):
        hotel_id = m.key.decode()
        family = (sim_hotels[ours[hotel_id]]["pms_type"], sim_hotels[ours[hotel_id]]["pms_version"])
        headers = H.header_dict(m.headers)
        context = json.loads(headers[H.CONTEXT]) if H.CONTEXT in headers else None
        try:
            booking = compiled[family].process(json.loads(m.value), context)
        except PMSError:
            continue   # the simulator's deliberately invalid records
        store = latest.setdefault(hotel_id, {})
        old = store.get(booking["external_id"])
        if old is None or booking["source_updated_at"] >= old["source_updated_at"]:
            store[booking["external_id"]] = booking

    for hotel_id, sim_id in ours.items():
        truth = sim.truth(sim_id)["bookings"]
        got = sorted(latest.get(hotel_id, {}).values(), key=lambda b: b["external_id"])
        missing = {b["external_id"] for b in truth} - {b["external_id"] for b in got}
        assert not missing, f"{sim_id} ({sim_hotels[sim_id]['pms_type']}): never published {missing}"
        assert got == truth, sim_id
        cursor = db.execute("SELECT delta_cursor FROM sync_checkpoints WHERE hotel_id = %s",
                            (hotel_id,)).fetchone()[0]
        assert cursor is not None
    print(f"\n[churn] {edits} edits during walks; most walks in one sync {max(walks.values())}; "
          f"unsettled syncs {sum(failed.values())}")
