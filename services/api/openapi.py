"""The OpenAPI 3.1 document of the API, written by hand, and a plain HTML page rendering it.

The document is the contract: tests check that every served route is documented (and nothing
undocumented is served) and schemathesis checks responses against it. The docs page is built
from the same dictionary, with no external scripts or fonts (the API may run offline).
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from pmsync.booking import STATUSES

_NULL_STR = {"type": ["string", "null"]}
_NULL_DT = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# What the server refuses before any route runs (services/api/worker.py answers these in the
# same shape): every operation can get them.
_SERVER_REFUSALS = (400, 414, 431)


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Bad parameter, body or cursor; or a request that is not valid HTTP (bad header "
                 "bytes, broken chunked framing)",
            401: "Missing, malformed, unknown or revoked key (code unauthorized), or an expired "
                 "key (code key_expired)",
            403: "The key's kind does not fit the route", 404: "Not found",
            413: "Body larger than 5 MiB, with Content-Length or chunked",
            414: "Request line (path and query) longer than the server accepts",
            415: "Body is not JSON", 422: "The config is invalid (every error with its JSON pointer)",
            431: "Too many request headers, or one too large",
            501: "A pipeline function this route needs is not in this build",
            503: "Postgres is unreachable"}
    out = {str(s): _json(_ref("Error"), text[s]) for s in sorted({*statuses, *_SERVER_REFUSALS})}
    out["default"] = _json(_ref("Error"), "Any other error, in the same shape")
    return out


def _query(name: str, schema: dict, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                "Page size (at most 500)")
_CURSOR = _query("cursor", {"type": "string", "maxLength": 512},
                 "Opaque: the next_cursor of the previous page")

_BOOKING = {
    "type": "object",
    "required": ["external_id", "status", "check_in", "check_out", "guest", "room_number",
                 "room_type", "adults", "children", "total_amount", "currency", "source_updated_at",
                 "hotel_id", "pms_type", "pms_version", "config_hash", "source_topic",
                 "source_partition", "source_offset", "loaded_at"],
    "properties": {
        "external_id": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "check_in": {"type": "string", "format": "date"},
        "check_out": {"type": "string", "format": "date"},
        "guest": {"type": "object", "required": ["first_name", "last_name", "email", "phone"],
                  "properties": {k: _NULL_STR for k in ("first_name", "last_name", "email", "phone")}},
        "room_number": _NULL_STR, "room_type": _NULL_STR,
        "adults": {"type": "integer"}, "children": {"type": "integer"},
        "total_amount": {"type": ["string", "null"], "pattern": r"^-?[0-9]+\.[0-9]{2}$"},
        "currency": _NULL_STR,
        "source_updated_at": {"type": "string", "format": "date-time"},
        "hotel_id": {"type": "string"}, "pms_type": {"type": "string"},
        "pms_version": {"type": "string"}, "config_hash": {"type": "string"},
        "source_topic": {"type": "string"}, "source_partition": {"type": "integer"},
        "source_offset": {"type": "integer"},
        "loaded_at": {"type": "string", "format": "date-time"},
    },
}

_ENCODED = {"type": "object", "required": ["encoding", "value"],
            "properties": {"encoding": {"type": "string", "enum": ["utf-8", "base64"]},
                           "value": {"type": "string"}}}

_DLQ_MESSAGE = {
    "type": "object",
    "required": ["id", "hotel_id", "stage", "error_class", "error_message", "failed_at",
                 "message_value", "replay_count"],
    "properties": {
        "id": {"type": "integer"}, "hotel_id": _NULL_STR, "stage": {"type": "string"},
        "error_class": {"type": "string"}, "error_message": {"type": "string"},
        "error_path": _NULL_STR, "source_topic": _NULL_STR,
        "source_partition": {"type": ["integer", "null"]}, "source_offset": {"type": ["integer", "null"]},
        "pms_type": _NULL_STR, "pms_version": _NULL_STR, "config_version": _NULL_STR,
        "config_hash": _NULL_STR, "failed_at": {"type": "string", "format": "date-time"},
        "message_key": {"oneOf": [_ENCODED, {"type": "null"}]}, "message_value": _ENCODED,
        "headers": {"type": "object"}, "replayed_at": _NULL_DT, "replay_count": {"type": "integer"},
    },
}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "next_cursor", "limit"],
            "properties": {"data": {"type": "array", "items": _ref(item)},
                           "next_cursor": {"type": ["string", "null"]},
                           "limit": {"type": "integer"}}}


_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "object", "required": ["code", "message", "details"],
                                       "properties": {"code": {"type": "string"},
                                                      "message": {"type": "string"},
                                                      "details": {}}}}},
    "Booking": _BOOKING,
    "BookingPage": _page("Booking"),
    "SyncStatus": {
        "type": "object", "required": ["hotel", "sync", "bookings", "dlq"],
        "properties": {
            "hotel": {"type": "object", "required": ["id", "name", "pms_type", "pms_version", "status"],
                      "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                     "pms_type": {"type": "string"}, "pms_version": {"type": "string"},
                                     "status": {"type": "string", "enum": ["active", "disabled"]},
                                     "poll_interval_s": {"type": "integer"}}},
            "sync": {"type": "object",
                     "required": ["last_attempt_at", "last_success_at", "lag_seconds", "last_error",
                                  "consecutive_failures", "records_fetched"],
                     "properties": {"last_attempt_at": _NULL_DT, "last_success_at": _NULL_DT,
                                    "lag_seconds": {"type": ["number", "null"]},
                                    "last_error": _NULL_STR, "last_error_at": _NULL_DT,
                                    "consecutive_failures": {"type": "integer"},
                                    "records_fetched": {"type": "integer"},
                                    "delta_cursor": _NULL_STR,
                                    # Set while the hotel backs off after failed syncs.
                                    "next_attempt_at": _NULL_DT}},
            "bookings": {"type": "object", "required": ["total", "by_status"],
                         "properties": {"total": {"type": "integer"},
                                        "by_status": {"type": "object",
                                                      "additionalProperties": {"type": "integer"}}}},
            "dlq": {"type": "object", "required": ["pending", "last_failed_at"],
                    "properties": {"pending": {"type": "integer"}, "last_failed_at": _NULL_DT}},
        }},
    "DlqMessage": _DLQ_MESSAGE,
    "DlqPage": _page("DlqMessage"),
    "ReplayRequest": {"type": "object", "required": ["ids"], "additionalProperties": False,
                      "properties": {"ids": {"type": "array", "minItems": 1, "maxItems": 1000,
                                             "items": {"type": "integer", "minimum": 1}}}},
    "ReplayResult": {"type": "object", "required": ["requested", "replayed", "not_found"],
                     "properties": {"requested": {"type": "integer"}, "replayed": {"type": "integer"},
                                    "not_found": {"type": "array", "items": {"type": "integer"}}}},
    "ConfigUpload": {"type": "object", "required": ["config"], "additionalProperties": False,
                     "properties": {"config": {"type": "object",
                                               "description": "A PMS config (docs/config-language.md)"},
                                    "sample": {"description": "A sample page, as the PMS returns it"},
                                    "dry_run": {"type": "boolean", "default": False}}},
    "ConfigUploadResult": {
        "type": "object", "required": ["pms_type", "version", "config_hash", "dry_run", "published"],
        "properties": {"pms_type": {"type": "string"}, "version": {"type": "string"},
                       "config_hash": {"type": "string"}, "published": {"type": "boolean"},
                       "dry_run": {"oneOf": [{"type": "null"}, {
                           "type": "object", "required": ["records", "rows", "rejects"],
                           "properties": {"records": {"type": "integer"},
                                          "rows": {"type": "array", "items": {"type": "object"}},
                                          "rejects": {"type": "array", "items": {"type": "object"}}}}]}}},
    "ConfigList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {
        "type": "object", "required": ["pms_type", "version", "config_hash", "created_at", "updated_at"],
        "properties": {"pms_type": {"type": "string"}, "version": {"type": "string"},
                       "config_hash": {"type": "string"},
                       "created_at": {"type": "string", "format": "date-time"},
                       "updated_at": {"type": "string", "format": "date-time"}}}}}},
    "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
}

_HOTEL = [{"hotelKey": []}]
_ADMIN = [{"adminKey": []}]

_PATHS: dict[str, Any] = {
    "/api/integrations/pms/bookings/": {"get": {
        "operationId": "listBookings", "tags": ["hotel"], "security": _HOTEL,
        "summary": "The caller's hotel's bookings, in (source_updated_at, external_id) order",
        "parameters": [
            _query("status", {"type": "string", "enum": list(STATUSES)}, "Only this status"),
            _query("check_in_from", {"type": "string", "format": "date"}, "check_in on or after"),
            _query("check_in_to", {"type": "string", "format": "date"}, "check_in on or before"),
            _query("updated_since", {"type": "string", "format": "date-time"},
                   "source_updated_at at or after (inclusive)"),
            _query("room_number", {"type": "string", "minLength": 1, "maxLength": 64}, "Only this room"),
            _LIMIT, _CURSOR],
        "responses": {"200": _json(_ref("BookingPage"), "A page of bookings"), **_errors(400, 401, 403, 503)},
    }},
    "/api/integrations/pms/bookings/{external_id}/": {"get": {
        "operationId": "getBooking", "tags": ["hotel"], "security": _HOTEL,
        "summary": "One booking of the caller's hotel",
        "parameters": [{"name": "external_id", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 256}}],
        "responses": {"200": _json(_ref("Booking"), "The booking"), **_errors(400, 401, 403, 404, 503)},
    }},
    "/api/hotels/me/sync-status": {"get": {
        "operationId": "getSyncStatus", "tags": ["hotel"], "security": _HOTEL,
        "summary": "The caller's hotel: last fetch, lag, errors, booking and DLQ counts",
        "responses": {"200": _json(_ref("SyncStatus"), "Sync status"), **_errors(401, 403, 404, 503)},
    }},
    "/api/admin/dlq": {"get": {
        "operationId": "listDlq", "tags": ["admin"], "security": _ADMIN,
        "summary": "Dead-letter messages, newest first",
        "parameters": [
            _query("hotel", {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}, "Only this hotel"),
            _query("stage", {"type": "string", "minLength": 1, "maxLength": 64}, "Only this stage"),
            _query("error_class", {"type": "string", "minLength": 1, "maxLength": 128}, "Only this class"),
            _query("since", {"type": "string", "format": "date-time"}, "failed_at at or after"),
            _LIMIT, _CURSOR],
        "responses": {"200": _json(_ref("DlqPage"), "A page of DLQ messages"), **_errors(400, 401, 403, 503)},
    }},
    "/api/admin/dlq/replay": {"post": {
        "operationId": "replayDlq", "tags": ["admin"], "security": _ADMIN,
        "summary": "Send DLQ messages back to the raw topic",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ReplayRequest")}}},
        "responses": {"200": _json(_ref("ReplayResult"), "How many were replayed"),
                      **_errors(400, 401, 403, 413, 415, 501, 503)},
    }},
    "/api/admin/pms-configs": {
        "get": {"operationId": "listConfigs", "tags": ["admin"], "security": _ADMIN,
                "summary": "Stored PMS configs (without bodies)",
                "responses": {"200": _json(_ref("ConfigList"), "Configs"), **_errors(401, 403, 503)}},
        "post": {"operationId": "uploadConfig", "tags": ["admin"], "security": _ADMIN,
                 "summary": "Check a config, dry-run it on a sample page, then store and publish it "
                            "unless dry_run",
                 "requestBody": {"required": True,
                                 "content": {"application/json": {"schema": _ref("ConfigUpload")}}},
                 "responses": {"200": _json(_ref("ConfigUploadResult"), "Dry run only, nothing stored"),
                               "201": _json(_ref("ConfigUploadResult"), "Stored and published"),
                               **_errors(400, 401, 403, 413, 415, 422, 501, 503)}},
    },
    "/healthz": {"get": {"operationId": "healthz", "tags": ["ops"], "security": [],
                         "summary": "The process is up",
                         "responses": {"200": _json(_ref("Status"), "Up"), **_errors(400)}}},
    "/readyz": {"get": {"operationId": "readyz", "tags": ["ops"], "security": [],
                        "summary": "Postgres is reachable",
                        "responses": {"200": _json(_ref("Status"), "Ready"), **_errors(400, 503)}}},
    "/metrics": {"get": {"operationId": "metrics", "tags": ["ops"], "security": [],
                         "summary": "Prometheus metrics (all workers)",
                         "responses": {"200": {"description": "Prometheus text format",
                                               "content": {"text/plain": {"schema": {"type": "string"}}}},
                                       **_errors()}}},
    "/openapi.json": {"get": {"operationId": "openapi", "tags": ["ops"], "security": [],
                              "summary": "This document",
                              "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1"), **_errors()}}},
    "/docs": {"get": {"operationId": "docs", "tags": ["ops"], "security": [],
                      "summary": "This document as an HTML page",
                      "responses": {"200": {"description": "HTML",
                                            "content": {"text/html": {"schema": {"type": "string"}}}},
                                      **_errors()}}},
}


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "pmsync API", "version": "1",
                 "description": "Clean, per-hotel bookings from many PMSs. Every error, including "
                                "the server's own refusals (400, 413, 414, 431), is "
                                "{\"error\": {\"code\", \"message\", \"details\"}}. Every "
                                "response but this document carries Cache-Control: no-store."},
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "hotelKey": {"type": "http", "scheme": "bearer",
                             "description": "A hotel's API key (pmsync apikey create --hotel H)"},
                "adminKey": {"type": "http", "scheme": "bearer",
                             "description": "An admin key (pmsync apikey create --admin)"},
            },
        },
    }


@lru_cache(maxsize=1)
def docs_html() -> str:
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pmsync API</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "code{background:#eee;padding:0 .2em}td,th{text-align:left;padding:.2em .6em}</style>",
             "</head><body><h1>pmsync API</h1>",
             f"<p>{esc(spec()['info']['description'])} Machine-readable: "
             "<a href='/openapi.json'>/openapi.json</a>.</p>"]
    for path, ops in _PATHS.items():
        for method, op in ops.items():
            auth = ", ".join(k for s in op.get("security", []) for k in s) or "none"
            parts.append(f"<h2><code>{method.upper()} {esc(path)}</code></h2>"
                         f"<p>{esc(op['summary'])}. Auth: {esc(auth)}.</p>")
            if op.get("parameters"):
                parts.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>")
                for p in op["parameters"]:
                    parts.append(f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p['in'])}</td>"
                                 f"<td>{esc(str(p['schema']))}</td><td>{esc(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            codes = ", ".join(op["responses"])
            parts.append(f"<p>Responses: {esc(codes)}.</p>")
    parts.append("</body></html>")
    return "".join(parts)
