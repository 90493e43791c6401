"""Runs the API under gunicorn in-process (``pmsync api``): config, worker hooks, app loading.

Each worker builds its own app (and so its own pool) after the fork: ``preload_app`` stays
off on purpose. In multiprocess metrics mode a dead worker's metric files are marked dead so
``/metrics`` stops counting its live gauges. Never bind anything but what the caller asked.
"""

from __future__ import annotations

from typing import Any, Callable

from gunicorn.app.base import BaseApplication

from pmsync.settings import Settings


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


class ApiServer(BaseApplication):
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("child_exit", _child_exit)

    def load(self) -> Any:
        return self._factory()


def serve(settings: Settings, *, host: str, port: int, workers: int, threads: int,
          factory: Callable[[], Any] | None = None) -> None:
    """Block serving the API (or ``factory``'s app) until gunicorn is stopped."""
    def build() -> Any:
        from services.api import create_app
        return create_app(settings, pool_size=threads)

    ApiServer(factory or build, {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": "services.api.worker.JsonErrorWorker", "keepalive": 30, "timeout": 30, "graceful_timeout": 10,
        "accesslog": None, "errorlog": "-", "loglevel": settings.log_level.lower(),
        "proc_name": "pmsync-api",
    }).run()
