"""Admin routes: the dead-letter queue (list, replay) and PMS configs (list, upload with dry run).

These run inside ``@requires("admin")``'s transaction, whose key hash row-level security
resolves to an admin key (migrations 0009, 0010): it sees every hotel's DLQ rows and the
configs, and no hotel data. Replay and publish are the pipeline's own functions
(``pmsync.dlq_tools.replay``, ``pmsync.config_store.publish_config``); this module only checks
input and reports. A config upload never executes anything from the body: configs are data.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from flask import Blueprint, current_app, g, request

from services.api import cursor
from services.api.auth import requires
from services.api.body import json_object
from services.api.errors import ApiError, json_response
from services.api.params import HOTEL_ID_RE, Query

bp = Blueprint("admin", __name__)
log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_REPLAY_IDS = 1000
MAX_SAMPLE_RECORDS = 1000
DLQ_PARAMS = ("hotel", "stage", "error_class", "since", "limit", "cursor")


def _unavailable(what: str, exc: ImportError) -> ApiError:
    # The module belongs to another part of the pipeline; say so instead of failing obscurely.
    return ApiError(501, "not_implemented", f"{what} is not available in this build ({exc.name} missing)")


# How long a publishing admin request waits for a broker that does not answer before its 503.
# kafka-python's default bootstrap wait, 30 s, held an API thread (and the caller) that long.
BROKER_WAIT_S = 5.0


def _through_kafka(call: Callable[..., T], *args: Any) -> T:
    """Run a replay or publish; a broker that does not take the messages is a 503 to retry.
    kafka-python is imported here, by the two routes that publish, and not by every API worker
    at start (its import cost ~0.45 s of CPU per worker)."""
    from kafka.errors import KafkaError
    try:
        return call(*args, bootstrap_timeout_s=BROKER_WAIT_S)
    except KafkaError as exc:
        log.warning("kafka unavailable", extra={"error_class": type(exc).__name__})
        raise ApiError(503, "kafka_unavailable",
                       "Kafka did not accept the messages; nothing was lost, retry later",
                       None, {"Retry-After": "5"}) from None


def _message_value(value: bytes) -> dict[str, str]:
    try:
        return {"encoding": "utf-8", "value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "value": base64.b64encode(value).decode("ascii")}


@bp.get("/api/admin/dlq")
@requires("admin")
def list_dlq():
    q = Query(request.args, DLQ_PARAMS)
    params: dict[str, Any] = {
        "hotel": q.pattern("hotel", HOTEL_ID_RE, "a hotel id ([A-Za-z0-9_.-], at most 64)"),
        "stage": q.text("stage", 64),
        "error_class": q.text("error_class", 128),
        "since": q.datetime("since"),
    }
    limit = q.limit(default=100, maximum=500)
    clauses = {"hotel": "hotel_id = %(hotel)s", "stage": "stage = %(stage)s",
               "error_class": "error_class = %(error_class)s", "since": "failed_at >= %(since)s"}
    where = [sql for name, sql in clauses.items() if params[name] is not None]
    token = q.text("cursor", cursor.MAX_CURSOR)
    if token is not None:
        params["before_id"] = cursor.decode_dlq(token)
        where.append("id < %(before_id)s")
    params["fetch"] = limit + 1
    sql = ("SELECT id, hotel_id, stage, error_class, error_message, error_path, source_topic, "
           "source_partition, source_offset, pms_type, pms_version, config_version, config_hash, "
           "failed_at, message_key, message_value, headers, replayed_at, replay_count "
           "FROM dlq_messages" + (f" WHERE {' AND '.join(where)}" if where else "") +
           " ORDER BY id DESC LIMIT %(fetch)s")
    rows = g.conn.execute(sql, params).fetchall()
    page = rows[:limit]
    data = [{
        "id": r[0], "hotel_id": r[1], "stage": r[2], "error_class": r[3], "error_message": r[4],
        "error_path": r[5], "source_topic": r[6], "source_partition": r[7], "source_offset": r[8],
        "pms_type": r[9], "pms_version": r[10], "config_version": r[11], "config_hash": r[12],
        "failed_at": r[13],
        "message_key": _message_value(bytes(r[14])) if r[14] is not None else None,
        "message_value": _message_value(bytes(r[15])), "headers": r[16],
        "replayed_at": r[17], "replay_count": r[18],
    } for r in page]
    next_cursor = cursor.encode_dlq(page[-1][0]) if len(rows) > limit else None
    return json_response({"data": data, "next_cursor": next_cursor, "limit": limit})


@bp.post("/api/admin/dlq/replay")
@requires("admin")
def replay_dlq():
    Query(request.args, ())
    body = json_object()
    unknown = sorted(set(body) - {"ids"})
    if unknown:
        raise ApiError(400, "invalid_body", f"unknown field(s): {', '.join(unknown[:5])}; allowed: ids")
    ids = body.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_REPLAY_IDS or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids):
        raise ApiError(400, "invalid_body",
                       f"ids must be a list of 1 to {MAX_REPLAY_IDS} positive DLQ message ids",
                       {"field": "ids"})
    ids = sorted(set(ids))
    try:
        from pmsync.dlq_tools import replay
    except ImportError as exc:
        raise _unavailable("DLQ replay", exc) from None
    existing = [r[0] for r in g.conn.execute("SELECT id FROM dlq_messages WHERE id = ANY(%s)", (ids,))]
    missing = sorted(set(ids) - set(existing))
    replayed = _through_kafka(replay, current_app.config["PMSYNC_SETTINGS"], existing) if existing else 0
    return json_response({"requested": len(ids), "replayed": replayed, "not_found": missing})


@bp.get("/api/admin/pms-configs")
@requires("admin")
def list_configs():
    Query(request.args, ())
    rows = g.conn.execute("SELECT pms_type, version, config_hash, created_at, updated_at "
                          "FROM pms_configs ORDER BY pms_type, version").fetchall()
    return json_response({"data": [
        {"pms_type": r[0], "version": r[1], "config_hash": r[2], "created_at": r[3], "updated_at": r[4]}
        for r in rows]})


def _dry_run(compiled: Any, sample: Any) -> dict[str, Any]:
    """Map every record of the sample page: canonical rows and rejects, never an exception."""
    from pmsync.errors import PMSError

    try:
        records = list(compiled.records(sample))
    except PMSError as exc:
        return {"records": 0, "rows": [], "rejects": [{"index": None, **exc.as_dict()}]}
    if len(records) > MAX_SAMPLE_RECORDS:
        raise ApiError(400, "invalid_body", f"the sample has {len(records)} records; "
                                            f"at most {MAX_SAMPLE_RECORDS} are dry-run")
    rows, rejects = [], []
    for index, record in enumerate(records):
        try:
            # The validator's check, then the mapper's: the dry run is the whole pipeline.
            compiled.validate_raw(record)
            rows.append(compiled.process(record, compiled.context_for(record, sample)))
        except PMSError as exc:
            rejects.append({"index": index, **exc.as_dict()})
    return {"records": len(records), "rows": rows, "rejects": rejects}


@bp.post("/api/admin/pms-configs")
@requires("admin")
def upload_config():
    Query(request.args, ())
    body = json_object()
    unknown = sorted(set(body) - {"config", "sample", "dry_run"})
    if unknown:
        raise ApiError(400, "invalid_body",
                       f"unknown field(s): {', '.join(unknown[:5])}; allowed: config, sample, dry_run")
    config, dry_run = body.get("config"), body.get("dry_run", False)
    if not isinstance(config, dict):
        raise ApiError(400, "invalid_body", "config must be a JSON object (the PMS config)",
                       {"field": "config"})
    if not isinstance(dry_run, bool):
        raise ApiError(400, "invalid_body", "dry_run must be true or false", {"field": "dry_run"})
    try:
        from pmsync.config import compile_config, load_config
    except ImportError as exc:
        raise _unavailable("config upload", exc) from None
    from pmsync.errors import ConfigError

    try:
        cfg = load_config(config)
        compiled = compile_config(cfg)
    except ConfigError as exc:
        raise ApiError(422, "invalid_config", f"the config has {len(exc.errors)} error(s)",
                       [{"pointer": p or "/", "message": m} for p, m in exc.errors]) from None
    result: dict[str, Any] = {
        "pms_type": getattr(cfg, "pms_type", config.get("pms_type")),
        "version": getattr(cfg, "version", config.get("version")),
        # The engine's hash when it has one; else the spec's (sorted keys, no whitespace).
        "config_hash": getattr(cfg, "hash", None)
        or hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest(),
        "dry_run": None, "published": False,
    }
    if "sample" in body:
        result["dry_run"] = _dry_run(compiled, body["sample"])
    if not dry_run:
        try:
            from pmsync.config_store import publish_config
        except ImportError as exc:
            raise _unavailable("config publishing", exc) from None
        _through_kafka(publish_config, current_app.config["PMSYNC_SETTINGS"], cfg)
        result["published"] = True
    return json_response(result, 201 if result["published"] else 200)
