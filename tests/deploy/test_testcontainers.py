"""The suite's testcontainers branch (tests/services.py), run for real: podman's
Docker-compatible socket as the engine, the compose file's Kafka and Postgres images (here the
local stand-ins), and integration tests that then talk to those containers instead of the
native stack. Without this run the branch would only ever be read, never executed."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.compose import STANDINS
from tests.deploy.podman import ROOT, Socket, env

# Kafka and Postgres both, the API role and row-level security, the loader end to end.
SUBSET = ["tests/integration/test_foundation.py", "tests/integration/test_loader_kafka.py"]


def test_integration_tests_pass_on_testcontainers_over_podman(images: float, tmp_path) -> None:
    socket = Socket(tmp_path / "podman.sock")
    try:
        run_env = env(DOCKER_HOST=socket.url, TESTCONTAINERS_RYUK_DISABLED="true",
                      PMSYNC_TEST_SERVICES="testcontainers",
                      PMSYNC_KAFKA_IMAGE=STANDINS["PMSYNC_KAFKA_IMAGE"],
                      PMSYNC_POSTGRES_IMAGE=STANDINS["PMSYNC_POSTGRES_IMAGE"])
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *SUBSET],
                              cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=1200)
    finally:
        socket.close()
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1], tail
    print(f"\n[deploy] testcontainers over podman: {proc.stdout.strip().splitlines()[-1]}")
