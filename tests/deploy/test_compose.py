"""docker-compose.yml, started for real under podman with the Kafka and Postgres stand-ins.

The tests run in file order on one stack: up (dependency conditions honoured), bookings
loaded, the API answering with a key made in its own container, a second validator, then
``down -v`` leaving nothing behind. Times are printed, never asserted.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.deploy.compose import ComposeStack
from tests.deploy.podman import podman_json, run

UP_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def stack(images: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    stack = ComposeStack(tmp_path_factory.mktemp("compose"))
    stack.started = time.monotonic()
    try:
        stack.compose("up", "-d", "--no-build", timeout=UP_TIMEOUT_S)
        yield stack
    finally:
        if not getattr(stack, "is_down", False):
            stack.down()


def _started_at(container: str) -> datetime:
    state = podman_json("inspect", container)[0]["State"]
    return datetime.fromisoformat(state["StartedAt"][:26].rstrip("Z"))


def _finished_at(container: str) -> datetime:
    state = podman_json("inspect", container)[0]["State"]
    return datetime.fromisoformat(state["FinishedAt"][:26].rstrip("Z"))


def test_init_completes_before_any_service_starts(stack: ComposeStack) -> None:
    init = podman_json("inspect", stack.container("init"))[0]["State"]
    assert init["Status"] == "exited" and init["ExitCode"] == 0
    # service_completed_successfully honoured: the workers started after init had exited...
    for service in ("validator", "mapper", "loader", "api"):
        assert _started_at(stack.container(service)) >= _finished_at(stack.container("init"))
    # ...and service_healthy: init started only once Postgres answered pg_isready.
    health = podman_json("inspect", stack.container("postgres"))[0]["State"]["Health"]
    assert health["Status"] == "healthy"


def test_simulator_bookings_reach_postgres(stack: ComposeStack) -> None:
    deadline = time.monotonic() + 600
    count = 0
    while time.monotonic() < deadline:
        count = int(stack.psql("SELECT count(*) FROM bookings") or 0)
        if count > 0:
            break
        time.sleep(3)
    assert count > 0, stack.compose("logs", "--tail", "30", check=False).stdout[-6000:]
    print(f"\n[deploy] compose cold start (up -d) to first loaded booking: "
          f"{time.monotonic() - stack.started:.0f} s ({count} bookings at that moment)")


def _get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_api_answers_readyz_and_the_seed_path_with_a_key_made_in_its_container(stack: ComposeStack) -> None:
    base = f"http://127.0.0.1:{stack.api_port}"
    assert _get(base + "/readyz")[0] == 200
    hotel = stack.psql("SELECT hotel_id FROM bookings GROUP BY hotel_id ORDER BY count(*) DESC LIMIT 1")
    key = stack.compose("exec", "-T", "api", "pmsync", "apikey", "create", "--hotel", hotel,
                        timeout=60).stdout.strip().splitlines()[-1]
    status, body = _get(base + "/api/integrations/pms/bookings/?limit=5", key)
    assert status == 200, body[:500]
    page = json.loads(body)["data"]
    assert page and {b["hotel_id"] for b in page} <= {hotel}
    assert _get(base + "/api/integrations/pms/bookings/?limit=5")[0] == 401


def test_a_second_validator_joins_the_group(stack: ComposeStack) -> None:
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "validator=2", "validator", timeout=300)
    time.sleep(20)   # let the second instance join and rebalance before we look
    second = podman_json("inspect", stack.container("validator", 2))[0]["State"]
    first = podman_json("inspect", stack.container("validator", 1))[0]["State"]
    assert second["Status"] == "running" and first["Status"] == "running"
    assert second["RestartCount"] == 0


def test_down_v_leaves_nothing_behind(stack: ComposeStack) -> None:
    stack.down()
    stack.is_down = True
    label = f"label=com.docker.compose.project={stack.project}"
    assert run("podman", "ps", "-a", "-q", "--filter", label).stdout.strip() == ""
    volumes = run("podman", "volume", "ls", "-q").stdout.split()
    assert [v for v in volumes if v.startswith(stack.project)] == []
    networks = run("podman", "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert [n for n in networks if n.startswith(stack.project)] == []
