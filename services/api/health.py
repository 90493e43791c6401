"""Operational routes without auth: liveness, readiness, metrics, the OpenAPI document, docs.

``/readyz`` answers 503 (not an exception) while Postgres is unreachable. None of these routes
may reveal settings, DSNs or data.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from services.api import metrics
from services.api.db import pool
from services.api.errors import error_response, json_response
from services.api.openapi import docs_html, spec
from services.api.params import Query

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    Query(request.args, ())
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    Query(request.args, ())
    try:
        with pool().connection(timeout=2.0) as conn:
            conn.execute("SELECT 1")
    except Exception:  # any failure to reach Postgres means not ready; the reason is not leaked
        return error_response(503, "not_ready", "the database is not reachable")
    return json_response({"status": "ready"})


@bp.get("/metrics")
def prometheus_metrics():
    return metrics.exposition()


# The documentation is the same for every caller and holds no data: caches may keep it a while.
_DOCS_CACHE = {"Cache-Control": "public, max-age=300"}


@bp.get("/openapi.json")
def openapi_json():
    return json_response(spec(), headers=_DOCS_CACHE)


@bp.get("/docs")
def docs():
    return Response(docs_html(), mimetype="text/html", headers=_DOCS_CACHE)
