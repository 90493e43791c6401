"""A replayed record that fails again is visible as failed again, end to end on real Kafka and
Postgres with the real worker processes: replay → fails again → the row shows it failed
(attempts, latest reason, history) → `--all-matching` picks it up → config fixed → replay →
the booking loads and the row shows replayed."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
import uuid

import orjson
import pytest
from kafka import KafkaProducer

from pmsync.config import load_config
from pmsync.config_store import publish_configs
from pmsync.dlq_tools import DlqFilter, list_rejects, replay
from pmsync.kafka import headers as h
from pmsync.runner import pipeline_service
from tests.integration.test_poison_topics import CONFIG, valid_record

pytestmark = pytest.mark.integration

HOTEL = f"replay-{uuid.uuid4().hex[:8]}"


def _row(db) -> dict | None:
    rows = db.execute("""SELECT id, stage, error_class, error_message, attempts, replay_count,
                                replayed_at, last_replayed_at, last_failed_at, history
                           FROM dlq_messages WHERE hotel_id = %s""", (HOTEL,)).fetchall()
    assert len(rows) <= 1, rows          # one row per failed record, however often it failed
    if not rows:
        return None
    keys = ("id", "stage", "error_class", "error_message", "attempts", "replay_count",
            "replayed_at", "last_replayed_at", "last_failed_at", "history")
    return dict(zip(keys, rows[0]))


def _wait(what: str, condition, services, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        for svc in services:
            assert svc.running(), f"{svc.name} stopped:\n{svc.log_tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return found


def _replay_all_matching(settings) -> str:
    result = subprocess.run([sys.executable, "-m", "pmsync.cli", "dlq", "replay", "--all-matching",
                             "--hotel", HOTEL], env={**os.environ, **settings.to_env()},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_replay_that_fails_again_shows_as_failed_and_is_replayed_again_after_the_fix(
        settings, topics, db, tmp_path):
    good = load_config(CONFIG)
    record = valid_record()
    body = copy.deepcopy(good.body)
    del body["status_mappings"][record["status"]]           # the record's status is unmapped
    broken = load_config(body)
    publish_configs(settings, [broken])
    services = [pipeline_service(name, settings, tmp_path).start()
                for name in ("validator", "mapper", "loader", "dlq-sink")]
    try:
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        producer.send(topics.raw, key=HOTEL.encode(), value=orjson.dumps(record),
                      headers=[(h.HOTEL_ID, HOTEL.encode()), (h.PMS_TYPE, b"cloudbeds"),
                               (h.PMS_VERSION, b"1.2")])
        producer.flush()
        producer.close()
        first = _wait("the first failure", lambda: _row(db), services)
        assert (first["stage"], first["attempts"], first["replayed_at"]) == ("mapping", 1, None)

        # Replayed before the fix: it fails again, and the row says so.
        assert replay(settings, [first["id"]]) == 1
        again = _wait("the failure after the replay", lambda: (r := _row(db))["attempts"] == 2 and r, services)
        assert again["replayed_at"] is None and again["replay_count"] == 1
        assert again["last_replayed_at"] is not None and again["last_failed_at"] >= again["last_replayed_at"]
        assert "unknown status code" in again["error_message"]
        assert [entry["stage"] for entry in again["history"]] == ["mapping"]
        pending = list_rejects(db, DlqFilter(hotel_id=HOTEL, not_replayed=True))
        assert [r["id"] for r in pending] == [first["id"]]

        # The config is fixed; once the mapper has it, `--all-matching` replays the row again.
        publish_configs(settings, [good])
        mapper = services[1]
        _wait("the mapper to load the fixed config", lambda: good.hash in mapper.log_tail(200), services)
        assert "replayed 1 message(s)" in _replay_all_matching(settings)
        _wait("the booking", lambda: db.execute("SELECT count(*) FROM bookings WHERE hotel_id = %s",
                                                (HOTEL,)).fetchone()[0] == 1, services)
        done = _row(db)
        assert done["replayed_at"] is not None and done["replay_count"] == 2 and done["attempts"] == 2
        assert "replayed 0 message(s)" in _replay_all_matching(settings)   # nothing pending now
    finally:
        for svc in services:
            svc.stop()
