"""docker-compose.yml, started for real under podman with the Kafka and Postgres stand-ins,
then the Helm chart's pods under ``podman kube play`` against that stack's Kafka and Postgres.

The tests run in file order on one stack: up (dependency conditions honoured), bookings
loaded, no service restarting, the API answering with a key made in its own container, a
second validator sharing the partitions; then the compose pipeline stops and the chart's hook
Jobs and Deployments (tests/deploy/kube.py) run in a database and under a topic prefix of their
own until their bookings load, every pod answers its rendered probes and the API answers;
finally ``down -v`` leaves nothing behind. Times are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.deploy.compose import STANDINS, ComposeStack
from tests.deploy.kube import KubePlay, probe, render
from tests.deploy.podman import ROOT, podman_json, run

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
    count = _wait_for_bookings(stack, "pmsync")
    assert count > 0, stack.compose("logs", "--tail", "30", check=False).stdout[-6000:]
    print(f"\n[deploy] compose cold start (up -d) to first loaded booking: "
          f"{time.monotonic() - stack.started:.0f} s ({count} bookings at that moment)")


def _wait_for_bookings(stack: ComposeStack, database: str, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while (count := int(stack.psql("SELECT count(*) FROM bookings", database) or 0)) == 0:
        if time.monotonic() > deadline:
            break
        time.sleep(3)
    return count


def _status(container: str) -> tuple[str, int]:
    inspected = podman_json("inspect", container)[0]
    return inspected["State"]["Status"], inspected["RestartCount"]


def test_no_service_restarted(stack: ComposeStack) -> None:
    """A service that crashes at start (a second migrate, a bad flag) is restarted by compose
    and would go unnoticed by the tests above."""
    for service in ("fetcher", "validator", "mapper", "loader", "dlq-sink", "api", "simulator"):
        assert _status(stack.container(service)) == ("running", 0), \
            (service, run("podman", "logs", "--tail", "20", stack.container(service), check=False).stderr[-3000:])


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


def _group_members(stack: ComposeStack, group: str) -> dict[str, int]:
    """Consumer id -> assigned partitions, read from the broker (kafka-consumer-groups.sh)."""
    out = stack.compose("exec", "-T", "kafka", "/opt/kafka/bin/kafka-consumer-groups.sh", "--bootstrap-server",
                        "localhost:9092", "--describe", "--members", "--group", group, check=False, timeout=120).stdout
    rows = [line.split() for line in out.splitlines() if line.startswith(group + " ")]
    return {row[1]: int(row[-1]) for row in rows}


def test_a_second_validator_shares_the_partitions(stack: ComposeStack) -> None:
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "validator=2", "validator", timeout=300)
    deadline = time.monotonic() + 180
    while len(members := _group_members(stack, "pmsync-validator")) < 2 and time.monotonic() < deadline:
        time.sleep(5)
    # Two consumers in the group, each with partitions of the three (2 + 1).
    assert len(members) == 2 and all(members.values()) and sum(members.values()) == 3, members
    for index in (1, 2):
        assert _status(stack.container("validator", index)) == ("running", 0)


KUBE_DB = "pmsync_kube"


def _register_simulator_hotels(stack: ComposeStack, dsn: str, workdir: Path) -> dict[str, str]:
    """The compose file's simulator-hotels one-shot, against the chart's database: registers
    the simulator's hotels and returns their credentials files (name -> JSON text)."""
    folder = workdir / "pms-credentials"
    folder.mkdir()
    os.chown(folder, 10001, 10001)
    entrypoint = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["simulator-hotels"]["entrypoint"]
    run("podman", "run", "--rm", "--network", stack.network, "-e", f"PMSYNC_DATABASE_URL={dsn}",
        "-e", "PMSYNC_SECRETS_DIR=/secrets", "-v", f"{folder}:/secrets", "--entrypoint", entrypoint[0],
        STANDINS["PMSYNC_IMAGE"], *entrypoint[1:], timeout=300)
    return {path.name: path.read_text() for path in folder.glob("*.json")}


@pytest.fixture(scope="module")
def kube(stack: ComposeStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The chart rendered for this stack, its hook Jobs run to completion (in weight order), the
    simulator's hotels registered, its Deployments played; returns them by name."""
    workdir = tmp_path_factory.mktemp("kube")
    # From here the chart's pods do the work; the compose pipeline stops (2 cores, shared).
    stack.compose("stop", "fetcher", "validator", "mapper", "loader", "dlq-sink", "api", timeout=300)
    stack.psql(f"CREATE DATABASE {KUBE_DB}")
    release = f"{stack.project}k"
    play = KubePlay(stack.network, release, workdir)
    stack.cleanups.append(play.down)

    def dsn(user: str, password_var: str) -> str:
        return f"postgresql://{user}:{stack.env[password_var]}@postgres:5432/{KUBE_DB}"

    play.secret(f"{release}-db", {"url": dsn("pmsync", "PMSYNC_DB_PASSWORD")}, for_env=True)
    play.secret(f"{release}-db-api", {"url": dsn("pmsync_api", "PMSYNC_API_DB_PASSWORD")}, for_env=True)
    image, tag = STANDINS["PMSYNC_IMAGE"].rsplit(":", 1)
    docs = render(release, {
        "image": {"repository": image, "tag": tag},
        "kafka": {"bootstrapServers": "kafka:9092", "partitions": 3, "topicPrefix": "kube.", "groupPrefix": "kube"},
        "database": {"existingSecret": f"{release}-db", "apiExistingSecret": f"{release}-db-api"},
        "pmsCredentials": {"existingSecret": f"{release}-pms"},
        "services": {"api": {"replicas": 1}},
    }, workdir)
    hooks = sorted((d for d in docs if d["kind"] == "Job"),
                   key=lambda job: int(job["metadata"]["annotations"]["helm.sh/hook-weight"]))
    assert [job["metadata"]["name"] for job in hooks] == [f"{release}-migrate", f"{release}-topics-configs"]
    for job in hooks:
        play.run_to_completion(job)
    play.secret(f"{release}-pms", _register_simulator_hotels(stack, dsn("pmsync", "PMSYNC_DB_PASSWORD"), workdir),
                for_env=False)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    play.play("deployments", deployments)
    stack.kube_started = time.monotonic()
    stack.kube_play = play
    return {d["metadata"]["name"].removeprefix(release + "-"): d for d in deployments}


def test_the_chart_hooks_migrated_and_created_the_prefixed_topics(stack: ComposeStack, kube: dict[str, dict]) -> None:
    assert int(stack.psql("SELECT count(*) FROM schema_migrations", KUBE_DB)) == len(
        list((ROOT / "pmsync" / "db" / "migrations").glob("*.sql")))
    topics = stack.compose("exec", "-T", "kafka", "/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server",
                           "localhost:9092", "--list", timeout=120).stdout.split()
    assert {"kube.pms.raw.v1", "kube.pms.bookings.v1", "kube.pms.dlq.v1"} <= set(topics)


def test_the_chart_pods_load_bookings(stack: ComposeStack, kube: dict[str, dict]) -> None:
    count = _wait_for_bookings(stack, KUBE_DB)
    assert count > 0, {name: run("podman", "logs", "--tail", "15", KubePlay.container(d), check=False).stderr[-1500:]
                       for name, d in kube.items()}
    print(f"\n[deploy] kube play: Deployments played to first loaded booking: "
          f"{time.monotonic() - stack.kube_started:.0f} s ({count} bookings)")


def test_every_chart_pod_answers_its_probes(stack: ComposeStack, kube: dict[str, dict]) -> None:
    """The kubelet's part: each rendered readiness, then liveness probe, on the pod's IP."""
    probed = []
    for name, deployment in kube.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        ip = stack.kube_play.pod_ip(deployment)
        deadline = time.monotonic() + 120
        while (answer := probe(ip, container["readinessProbe"]))[0] != 200 and time.monotonic() < deadline:
            time.sleep(3)
        assert answer[0] == 200, (name, answer)
        assert probe(ip, container["livenessProbe"])[0] == 200, name
        if name != "api":   # pmsync/probes.py's verdict, not just any 200 on that port
            assert json.loads(answer[1])["ok"] is True, (name, answer)
        probed.append(name)
    assert sorted(probed) == ["api", "dlq-sink", "fetcher", "loader", "mapper", "validator"]


def test_the_chart_api_answers_with_a_key_made_in_its_pod(stack: ComposeStack, kube: dict[str, dict]) -> None:
    base = f"http://{stack.kube_play.pod_ip(kube['api'])}:8000"
    assert _get(base + "/readyz")[0] == 200
    hotel = stack.psql("SELECT hotel_id FROM bookings GROUP BY hotel_id ORDER BY count(*) DESC LIMIT 1", KUBE_DB)
    key = run("podman", "exec", KubePlay.container(kube["api"]), "pmsync", "apikey", "create", "--hotel", hotel,
              timeout=60).stdout.strip().splitlines()[-1]
    status, body = _get(base + "/api/integrations/pms/bookings/?limit=5", key)
    assert status == 200, body[:500]
    assert {b["hotel_id"] for b in json.loads(body)["data"]} == {hotel}


def test_down_v_leaves_nothing_behind(stack: ComposeStack) -> None:
    stack.down()
    stack.is_down = True
    label = f"label=com.docker.compose.project={stack.project}"
    assert run("podman", "ps", "-a", "-q", "--filter", label).stdout.strip() == ""
    assert [p for p in run("podman", "pod", "ps", "--format", "{{.Name}}").stdout.split() if p.startswith(stack.project)] == []
    assert [s for s in run("podman", "secret", "ls", "--format", "{{.Name}}").stdout.split() if s.startswith(stack.project)] == []
    volumes = run("podman", "volume", "ls", "-q").stdout.split()
    assert [v for v in volumes if v.startswith(stack.project)] == []
    networks = run("podman", "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert [n for n in networks if n.startswith(stack.project)] == []
