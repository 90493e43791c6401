"""The API's one error shape, ``{"error": {"code", "message", "details"}}``, produced here only.

Views raise ``ApiError``; Werkzeug's HTTP errors, database outages and anything unexpected are
turned into the same shape by the handlers registered in ``register_error_handlers``. A 500
never carries the exception text (it could hold a DSN or a value): it is logged instead.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from flask import Flask, Response
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# orjson: UTC datetimes end in Z, as the canonical booking says.
JSON_OPTIONS = orjson.OPT_UTC_Z


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def invalid_parameter(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", message, {"parameter": name})


def _default(value: Any) -> Any:
    # Decimals (dry-run rows of a mapping engine that keeps them typed) leave as strings.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, default=_default, option=JSON_OPTIONS), status=status,
                    mimetype="application/json", headers=headers)


def error_document(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error shape itself; the gunicorn worker (services/api/worker.py) sends it too."""
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    return json_response(error_document(code, message, details), status, headers)


def code_for_reason(reason: str) -> str:
    """A stable code from an HTTP reason phrase: "Request Header Fields Too Large" ->
    "request_header_fields_too_large"."""
    return (reason or "error").lower().replace(" ", "_").replace("'", "")


def _http_code(exc: HTTPException) -> str:
    return code_for_reason(exc.name)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="pmsync"'} if exc.status == 401 else exc.headers
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = error_response(status, _http_code(exc), message)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def _database_down(exc: Exception) -> Response:
        log.warning("database unavailable", extra={"error_class": type(exc).__name__})
        return error_response(503, "database_unavailable",
                              "the database is not reachable; retry later", None,
                              {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "unexpected server error; it has been logged")
