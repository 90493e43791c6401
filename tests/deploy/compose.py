"""The compose stack under podman: Debian's docker-compose 1.29 against ``podman system
service``'s Docker-compatible socket.

Why not podman-compose: Debian 12's podman-compose 1.0.3 has no ``depends_on`` conditions at
all (its source never reads ``condition``), so it would start every service at once; the
compose file's ``service_healthy`` / ``service_completed_successfully`` ordering is the thing
under test. docker-compose 1.29 honours both; test_compose.py checks that it did.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.deploy.podman import ROOT, HealthTicker, Socket, env, run
from tests.ports import unused_port

STANDINS = {
    "PMSYNC_IMAGE": "localhost/pmsync:dev",
    "PMSYNC_KAFKA_IMAGE": "localhost/pmsync-standin-kafka:4.4.0",
    "PMSYNC_POSTGRES_IMAGE": "localhost/pmsync-standin-postgres:15",
}


class ComposeStack:
    """One compose project on its own socket, names and API port; ``down()`` removes it all."""

    def __init__(self, workdir: Path) -> None:
        self.project = f"pmsynct{secrets.token_hex(3)}"
        self.api_port = unused_port()
        self.socket = Socket(workdir / "podman.sock")
        self.env = {**env(), **STANDINS,
                    "DOCKER_HOST": self.socket.url, "COMPOSE_PROJECT_NAME": self.project,
                    "PMSYNC_DB_PASSWORD": secrets.token_urlsafe(12),
                    "PMSYNC_API_DB_PASSWORD": secrets.token_urlsafe(12),
                    "PMSYNC_API_PUBLISH_PORT": str(self.api_port),
                    "PMSYNC_TOPIC_PARTITIONS": "3"}
        self.ticker = HealthTicker(f"com.docker.compose.project={self.project}")
        self.ticker.start()
        self.cleanups: list[Callable[[], None]] = []   # run first by down(), last added first

    def compose(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        return run("docker-compose", "-f", str(ROOT / "docker-compose.yml"), *args,
                   check=check, timeout=timeout, env=self.env, cwd=ROOT)

    def psql(self, sql: str, database: str = "pmsync") -> str:
        return self.compose("exec", "-T", "postgres", "psql", "-U", "pmsync", "-d", database,
                            "-tAc", sql, timeout=60).stdout.strip()

    def container(self, service: str, index: int = 1) -> str:
        return f"{self.project}_{service}_{index}"

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def down(self) -> None:
        try:
            while self.cleanups:
                self.cleanups.pop()()
            self.compose("down", "-v", "--remove-orphans", timeout=300)
        finally:
            self.ticker.stop()
            self.socket.close()

