"""The consuming services' probes (pmsync/probes.py) as the real loops drive them: a worker is
ready once it holds partitions and commits, and a loader whose database refuses its batch
stays alive but is reported stuck — what Kubernetes and compose act on."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request

import pytest

from pmsync.loader.consume import Loader, LoaderOptions
from pmsync.probes import Probe, serve
from pmsync.settings import Settings
from services.validator.agent import spec as validator_spec
from pmsync.config import load_config
from pmsync.config_store import publish_configs
from tests.integration.test_poison_topics import (CONFIG, HEADERS, WorkerThread, produce,
                                                  valid_record, wait_until_committed)
from tests.ports import unused_port

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_stream_worker_is_ready_once_it_holds_partitions_and_commits(settings: Settings,
                                                                       topics) -> None:
    publish_configs(settings, [load_config(CONFIG)])
    probe = Probe(alive_within_s=30, stuck_after_s=60)
    server = serve(probe, 0, host="127.0.0.1")
    port = server.server_address[1]
    try:
        status, body = get(port, "/readyz")
        assert status == 503 and body["reason"] == "starting: no poll yet"
        worker = WorkerThread(settings, validator_spec(settings))
        worker.worker.probe = probe
        worker.start()
        record = json.dumps(valid_record()).encode()
        produce(settings, settings.topics.raw, [(b"probe-hotel", record, HEADERS)] * 20)
        wait_until_committed(settings, worker)
        deadline = time.monotonic() + 30
        while (ready := get(port, "/readyz"))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready[0] == 200, ready
        assert ready[1]["reason"] == "consuming" and ready[1]["assigned_partitions"] == settings.partitions
        assert get(port, "/healthz")[0] == 200
        assert b"pmsync_stream_messages_total" in urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        worker.stop()
    finally:
        server.shutdown()


def test_a_loader_whose_database_refuses_its_batch_is_alive_but_not_ready(settings: Settings,
                                                                          topics) -> None:
    # A port nothing listens on: every store attempt fails with OperationalError and is retried.
    unreachable = dataclasses.replace(
        settings, database_url=f"postgresql://pmsync:x@127.0.0.1:{unused_port()}/pmsync?connect_timeout=1")
    probe = Probe(alive_within_s=30, stuck_after_s=1.0)
    produce(settings, settings.topics.bookings, [(b"probe-hotel", b"any booking", [])] * 3)
    loader = Loader(unreachable, LoaderOptions(batch_size=10, max_wait_s=0.2), probe=probe)
    try:
        deadline = time.monotonic() + 60
        while loader.retrying is None and time.monotonic() < deadline:
            loader.step()
        assert loader.retrying is not None, "the loader never got a batch to store"
        waited_from = time.monotonic()
        while time.monotonic() - waited_from < 1.5:
            loader.step()          # retries the refused batch; the loop keeps turning
        assert probe.liveness().ok
        verdict = probe.readiness()
        assert not verdict.ok and verdict.reason.startswith("stuck"), verdict
    finally:
        loader.close()
