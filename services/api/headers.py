"""Headers every API response carries unless its route chose otherwise.

``Cache-Control: no-store`` by default: bookings carry guests' names, e-mails and phones, DLQ
messages carry whole PMS payloads, and an error or a sync status is no more cacheable, so no
browser, proxy or CDN may keep any of them. Only the API's own documentation, the same for
everyone, sets a cache lifetime (``health.py``). ``nosniff`` stops a browser from reading a
JSON body (which may echo request text) as HTML.
"""

from __future__ import annotations

from flask import Flask, Response

NO_STORE = "no-store"


def install(app: Flask) -> None:
    @app.after_request
    def _defaults(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", NO_STORE)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
