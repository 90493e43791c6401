"""`pmsync config publish` stores every shipped config and sends it to the configs topic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import psycopg
import pytest
from kafka import KafkaConsumer

from pmsync.config import load_config_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _publish(settings, *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pmsync.cli", "config", "publish", *paths],
                          env={**os.environ, **settings.to_env()}, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_publish_stores_and_sends_every_config(settings, topics):
    shipped = {c.key: c.hash for c in load_config_dir(ROOT / "pms_configs")}
    result = _publish(settings, "pms_configs")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(settings.database_url) as conn:
        stored = {f"{t}:{v}": h for t, v, h in conn.execute(
            "SELECT pms_type, version, config_hash FROM pms_configs")}
    assert {k: stored.get(k) for k in shipped} == shipped
    consumer = KafkaConsumer(topics.configs, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    sent = {m.key.decode(): orjson.loads(m.value) for m in consumer}
    consumer.close()
    assert set(sent) == set(shipped)


def test_publish_refuses_a_broken_config_and_sends_nothing(settings, topics, tmp_path):
    broken = tmp_path / "acme" / "1.json"
    broken.parent.mkdir()
    broken.write_text('{"pms_type": "acme", "version": "1"}')
    result = _publish(settings, str(broken))
    assert result.returncode != 0
    assert "/source" in result.stderr or "source" in result.stderr
    consumer = KafkaConsumer(topics.configs, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    assert list(consumer) == []
    consumer.close()
