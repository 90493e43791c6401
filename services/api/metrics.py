"""Prometheus metrics for the API: request count and latency by method, route and status.

Routes are labelled by their URL rule (``/api/integrations/pms/bookings/<external_id>/``),
never the raw path, so label cardinality stays bounded whatever clients send.

With several gunicorn workers, ``pmsync api`` runs prometheus_client in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR`` set before the first import, one file per worker, dead workers
marked in the gunicorn ``child_exit`` hook); ``/metrics`` then aggregates every worker. In a
single process (tests, ``flask run``) the default registry is used.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

REQUESTS = Counter("pmsync_api_requests_total", "API requests answered",
                   ["method", "route", "status"])
LATENCY = Histogram("pmsync_api_request_duration_seconds", "API request latency",
                    ["method", "route", "status"],
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))


def install(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            labels = (request.method, route, str(response.status_code))
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


def exposition() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
