"""Liveness and readiness of a consuming worker, served over HTTP for Kubernetes and compose.

Why not "the process is alive": a stream worker can run for hours with no partitions
assigned, or with its partitions assigned and messages waiting but nothing committed (a
broker that does not acknowledge, a database that refuses the loader's batch). Kubernetes
should restart the first kind of failure (the loop stopped turning) and take the second out of
rotation (the loop turns but makes no progress), so the two endpoints say different things:

- ``/healthz`` (liveness): the consume loop ticked within ``alive_within_s``. Only a hung
  loop fails it; a Kafka or Postgres outage does not (a restart would not cure it).
- ``/readyz`` (readiness): ticking, at least one partition assigned, and not stuck — work
  was waiting (records fetched, or lag > 0) and no commit landed for ``stuck_after_s``.

The hook into a loop is two calls: ``probe.polled(assigned, waiting)`` after each fetch and
``probe.progressed()`` after each commit. Both are a few attribute writes under no lock (the
HTTP thread only reads floats and ints, which the GIL keeps whole), so they cost nothing
measurable per batch. ``serve`` answers ``/healthz``, ``/readyz`` and ``/metrics`` (the
Prometheus registry) on one port, so a pod needs one port for probes and scraping.

This module must never block or raise into the worker loop, and never report ready before
the loop has polled at least once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """One probe's answer: ``ok`` decides the HTTP status, ``reason`` says why to a person."""

    ok: bool
    reason: str
    detail: dict


class Probe:
    """What the worker loop last reported, judged against two time limits.

    ``alive_within_s`` bounds the time between two loop ticks (a worker's poll waits at most
    about a second, a batch a few seconds); ``stuck_after_s`` bounds the time work may wait
    without a commit (a loader retrying a refused batch, acks that never come).
    """

    def __init__(self, *, alive_within_s: float = 60.0, stuck_after_s: float = 120.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.alive_within_s = alive_within_s
        self.stuck_after_s = stuck_after_s
        self._clock = clock
        self._started = clock()
        self._last_poll: float | None = None
        self._assigned = 0
        self._waiting_since: float | None = None   # first poll that saw work not yet committed
        self._last_progress: float | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Probe":
        """The limits from PMSYNC_PROBE_ALIVE_S / PMSYNC_PROBE_STUCK_S (the Helm chart's
        probes.aliveWithinSeconds / stuckAfterSeconds), else the defaults."""
        environ = os.environ if environ is None else environ
        return cls(alive_within_s=float(environ.get("PMSYNC_PROBE_ALIVE_S") or 60),
                   stuck_after_s=float(environ.get("PMSYNC_PROBE_STUCK_S") or 120))

    # -- called from the worker loop ------------------------------------------------------

    def polled(self, assigned: int, waiting: int = 0) -> None:
        """After each fetch: ``assigned`` partitions, ``waiting`` records fetched (or lag)
        that are not committed yet."""
        now = self._clock()
        self._last_poll = now
        self._assigned = assigned
        if waiting > 0 and self._waiting_since is None:
            self._waiting_since = now

    def progressed(self) -> None:
        """After each commit: whatever was waiting is done."""
        now = self._clock()
        self._last_progress = now
        self._waiting_since = None

    # -- read by the HTTP thread -----------------------------------------------------------

    def liveness(self) -> Verdict:
        now = self._clock()
        # Before the first poll the worker is starting (broker connect, config load): that
        # counts as a tick, for alive_within_s, so a slow start is not restarted in a loop.
        last = self._last_poll if self._last_poll is not None else self._started
        idle = now - last
        detail = {"since_last_poll_s": round(idle, 1)}
        if idle > self.alive_within_s:
            return Verdict(False, f"the consume loop has not polled for {idle:.0f} s "
                           f"(limit {self.alive_within_s:.0f} s): it is hung", detail)
        return Verdict(True, "the consume loop is polling", detail)

    def readiness(self) -> Verdict:
        alive = self.liveness()
        now = self._clock()
        detail = dict(alive.detail, assigned_partitions=self._assigned)
        if self._last_poll is None:
            return Verdict(False, "starting: no poll yet", detail)
        if not alive.ok:
            return Verdict(False, alive.reason, detail)
        if self._assigned == 0:
            return Verdict(False, "no partitions assigned (more instances than partitions, "
                           "or a rebalance in progress)", detail)
        if self._waiting_since is not None:
            waited = now - self._waiting_since
            detail["work_waiting_s"] = round(waited, 1)
            if waited > self.stuck_after_s:
                return Verdict(False, f"stuck: records have waited {waited:.0f} s with no "
                               f"commit (limit {self.stuck_after_s:.0f} s); see the worker's "
                               "log for the broker or database error", detail)
        return Verdict(True, "consuming", detail)


class _Handler(BaseHTTPRequestHandler):
    probe: Probe   # set on the subclass serve() makes

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/readyz"):
            verdict = self.probe.liveness() if path == "/healthz" else self.probe.readiness()
            body = json.dumps({"ok": verdict.ok, "reason": verdict.reason, **verdict.detail})
            self._send(200 if verdict.ok else 503, body.encode(), "application/json")
        else:
            self._send(404, b'{"error": "not found: /healthz, /readyz, /metrics"}', "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # a probe every few seconds would drown the worker's log


def serve(probe: Probe, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` from a daemon thread.

    ``0.0.0.0`` by default: the kubelet and Prometheus reach a pod on its own address, not on
    its loopback. Returns the server (``shutdown()`` stops it; tests use port 0)."""
    handler = type("ProbeHandler", (_Handler,), {"probe": probe})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    log.info("probes served", extra={"port": server.server_address[1],
                                     "paths": "/healthz /readyz /metrics"})
    return server
