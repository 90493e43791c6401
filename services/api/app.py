"""``create_app(settings)``: the Flask app factory of the Bookings API.

One app per process, one connection pool per app (gunicorn builds the app in each worker
after the fork, so pools are never shared across processes). Blueprints per concern: hotel
routes (bookings), admin routes, health and docs. The app reads only Postgres, so it answers
while Kafka or any PMS is down. It must never hold the owner DSN's connection for requests.
"""

from __future__ import annotations

import atexit

from flask import Flask

from pmsync.settings import Settings
from services.api import admin, bookings, headers, health, metrics
from services.api.db import make_api_pool
from services.api.errors import register_error_handlers

# A config upload (config + sample page) is the largest legitimate body.
MAX_BODY_BYTES = 5 * 1024 * 1024


def create_app(settings: Settings, *, pool_size: int = 4) -> Flask:
    app = Flask("pmsync.api", static_folder=None)
    app.config.update(
        PMSYNC_SETTINGS=settings,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # Form bodies (no route takes one) are capped alike. Over-long request lines and
        # headers never get here: gunicorn refuses them (414/431, services/api/worker.py).
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    pool = make_api_pool(settings, pool_size)
    app.extensions["pmsync_pool"] = pool
    atexit.register(pool.close)
    register_error_handlers(app)
    headers.install(app)
    metrics.install(app)
    app.register_blueprint(bookings.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    return app
