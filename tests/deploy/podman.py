"""podman for the deploy tier: the setup script, a Docker-compatible socket, and a health ticker.

Why a ticker: podman runs a container's HEALTHCHECK from systemd timers, and the CI sandbox
has no systemd, so health would stay "starting" forever and docker-compose would never see
``service_healthy``. ``HealthTicker`` runs ``podman healthcheck run`` on the project's
containers every few seconds — what the timers would do — and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
TOOLS = Path(os.environ.get("PMSYNC_TOOLS_DIR", "/opt/pmsync-tools"))
HELM = TOOLS / "bin" / "helm"
DEPLOY_VENV = TOOLS / "venv"


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **extra}


def run(*args: str, check: bool = True, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    """Run a command with the podman settings; on failure the error shows its output."""
    kw.setdefault("env", env())
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def setup() -> float:
    """Install what is missing and build the images (scripts/podman-setup.sh); seconds taken."""
    started = time.monotonic()
    run(str(ROOT / "scripts" / "podman-setup.sh"), timeout=3600)
    return time.monotonic() - started


def podman_json(*args: str) -> list:
    return json.loads(run("podman", *args).stdout or "[]")


class Socket:
    """``podman system service`` on a socket of its own, for Debian's docker-compose."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{path}"],
                                     env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not path.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("podman system service did not create its socket")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class HealthTicker(threading.Thread):
    """Runs the health checks of containers labelled with ``label`` every ``every`` seconds."""

    def __init__(self, label: str, every: float = 3.0) -> None:
        super().__init__(daemon=True, name="health-ticker")
        self.label, self.every = label, every
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            try:
                names = run("podman", "ps", "--filter", f"label={self.label}", "--format",
                            "{{.Names}}\t{{.Status}}", check=False, timeout=30).stdout.split("\n")
                for line in names:
                    name, _, status = line.partition("\t")
                    if name and "(" in status:       # "Up 5 seconds (starting)": has a healthcheck
                        run("podman", "healthcheck", "run", name, check=False, timeout=60)
            except Exception:  # noqa: BLE001 - a tick that fails is retried on the next one
                continue

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)
