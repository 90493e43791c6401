"""``pmsync apikey`` and ``pmsync api`` (gunicorn, several workers, metrics from all of them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

import pmsync.settings
from pmsync.apikeys import hash_key
from pmsync.cli import main
from tests.ports import unused_port


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setattr(pmsync.settings, "_settings", settings)
    return CliRunner()


def test_apikey_create_prints_the_key_once_and_revoke_disables_it(cli, seed, db):
    hotel = seed.hotel()
    created = cli.invoke(main, ["apikey", "create", "--hotel", hotel, "--name", "front desk"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("pmk_") and len(key) == 47
    assert db.execute("SELECT hotel_id FROM api_keys WHERE key_hash = %s", (hash_key(key),)).fetchone() == (hotel,)
    listed = cli.invoke(main, ["apikey", "list"])
    assert key[:12] in listed.stdout and key not in listed.stdout
    assert cli.invoke(main, ["apikey", "revoke", key[:12]]).exit_code == 0
    assert db.execute("SELECT revoked_at IS NOT NULL FROM api_keys WHERE key_hash = %s",
                      (hash_key(key),)).fetchone() == (True,)
    assert cli.invoke(main, ["apikey", "revoke", key[:12]]).exit_code != 0


def test_apikey_create_refuses_unclear_scope_and_unknown_hotels(cli):
    assert cli.invoke(main, ["apikey", "create"]).exit_code == 2
    assert cli.invoke(main, ["apikey", "create", "--admin", "--hotel", "x"]).exit_code == 2
    missing = cli.invoke(main, ["apikey", "create", "--hotel", "no-such-hotel"])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_pmsync_api_serves_with_several_workers_and_metrics_cover_them_all(settings):
    port = unused_port()
    env = {**os.environ, **settings.to_env(), "PMSYNC_LOG_LEVEL": "WARNING"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "pmsync.cli", "api", "--port", str(port),
                             "--workers", "2", "--threads", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "API did not start"
            time.sleep(0.2)
        # New connections each time, so both workers answer some of them.
        for _ in range(40):
            assert _get(f"{base}/healthz")[0] == 200
        status, body = _get(f"{base}/metrics")
        assert status == 200
        counted = sum(s.value for f in text_string_to_metric_families(body.decode()) for s in f.samples
                      if s.name == "pmsync_api_requests_total" and s.labels["route"] == "/healthz")
        assert counted == 40
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
