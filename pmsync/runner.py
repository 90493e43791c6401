"""Starting pmsync services as child processes, for ``pmsync demo`` and end-to-end tests.

Each service runs as ``python -m pmsync.cli <command>`` in its own session with its own log
file and pid file, so it can be stopped (or killed, to test crash recovery) on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pmsync.settings import Settings
from pmsync.stack.process import read_pid, stop_pid


@dataclass
class Service:
    name: str
    args: list[str]
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def start(self) -> "Service":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "pmsync.cli", *self.args],
                                         env={**os.environ, **self.env}, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.pid_file.write_text(str(self.proc.pid))
        return self

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return read_pid(self.pid_file) is not None

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait: the service finishes its in-flight work and commits."""
        stop_pid(self.pid_file, timeout=timeout)
        if self.proc is not None:
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, with no chance to commit anything."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


# The ``pmsync`` sub-command of each pipeline service, by the name the demo, tests and benches use.
COMMANDS: dict[str, list[str]] = {
    "simulator": ["simulator"], "fetcher": ["fetcher"], "validator": ["validator"],
    "mapper": ["mapper"], "loader": ["loader"], "dlq-sink": ["dlq", "sink"], "api": ["api"],
}


def service(name: str, args: list[str], settings: Settings, run_dir: Path, **env: str) -> Service:
    return Service(name, args, run_dir, {**settings.to_env(), **env})


def pipeline_service(name: str, settings: Settings, run_dir: Path, *options: str,
                     label: str | None = None) -> Service:
    """The named service (a key of ``COMMANDS``) with extra command-line ``options``."""
    return service(label or name, [*COMMANDS[name], *options], settings, run_dir)

