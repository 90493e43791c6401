"""Hotel routes: the caller's bookings (list and one) and its sync status.

Every query here goes through ``auth.hotel_reads``: one pipelined transaction whose
row-level security tenant is the key's hotel; each query also names that hotel (``TENANT``)
so the indexes are used, and the rows are checked against the key's hotel before use.
Guest names are returned exactly as stored (the pipeline already escaped them); nothing here
escapes again. Never take a hotel id from the request.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, request

from pmsync.booking import STATUSES
from services.api import auth, cursor
from services.api.auth import key_hash
from services.api.errors import ApiError, invalid_parameter, json_response
from services.api.params import Query

bp = Blueprint("bookings", __name__)

MAX_EXTERNAL_ID = 256

# hotel_id first: hotel_reads checks it on every row.
_COLUMNS = """
  b.hotel_id, b.external_id, b.status, b.check_in, b.check_out,
  b.guest_first_name, b.guest_last_name, b.guest_email, b.guest_phone,
  b.room_number, b.room_type, b.adults, b.children, b.total_amount::text, b.currency,
  b.source_updated_at,
  b.pms_type, b.pms_version, b.config_hash,
  b.source_topic, b.source_partition, b.source_offset, b.loaded_at
"""
_FROM = """
  FROM bookings AS b
"""

# Optional filters: each is a fixed SQL fragment with bound parameters; request text never
# becomes SQL.
_FILTERS = {
    "status": "b.status = %(status)s",
    "check_in_from": "b.check_in >= %(check_in_from)s",
    "check_in_to": "b.check_in <= %(check_in_to)s",
    "updated_since": "b.source_updated_at >= %(updated_since)s",
    "room_number": "b.room_number = %(room_number)s",
}
_AFTER_CURSOR = "(b.source_updated_at, b.external_id) > (%(after_ts)s, %(after_id)s)"

LIST_PARAMS = ("status", "check_in_from", "check_in_to", "updated_since", "room_number",
               "limit", "cursor")


def _booking(row: tuple) -> dict[str, Any]:
    """A canonical booking (docs/design.md) followed by its lineage."""
    return {
        "external_id": row[1], "status": row[2], "check_in": row[3], "check_out": row[4],
        "guest": {"first_name": row[5], "last_name": row[6], "email": row[7], "phone": row[8]},
        "room_number": row[9], "room_type": row[10], "adults": row[11], "children": row[12],
        "total_amount": row[13], "currency": row[14], "source_updated_at": row[15],
        "hotel_id": row[0], "pms_type": row[16], "pms_version": row[17], "config_hash": row[18],
        "source_topic": row[19], "source_partition": row[20], "source_offset": row[21],
        "loaded_at": row[22],
    }


@bp.get("/api/integrations/pms/bookings/")
def list_bookings():
    hashed = key_hash()
    q = Query(request.args, LIST_PARAMS)
    params: dict[str, Any] = {
        "status": q.choice("status", STATUSES),
        "check_in_from": q.date("check_in_from"),
        "check_in_to": q.date("check_in_to"),
        "updated_since": q.datetime("updated_since"),
        "room_number": q.text("room_number", 64),
    }
    if params["check_in_from"] and params["check_in_to"] and params["check_in_from"] > params["check_in_to"]:
        raise invalid_parameter("check_in_to", "check_in_to is before check_in_from")
    limit = q.limit()
    where = [f"b.hotel_id = {auth.TENANT}"] + [sql for name, sql in _FILTERS.items() if params[name] is not None]
    token = q.text("cursor", cursor.MAX_CURSOR)
    if token is not None:
        params["after_ts"], params["after_id"] = cursor.decode_booking(token)
        where.append(_AFTER_CURSOR)
    # One row more than asked tells whether another page exists without a count.
    params["fetch"] = limit + 1
    sql = (f"SELECT {_COLUMNS} {_FROM} WHERE {' AND '.join(where)} "
           "ORDER BY b.source_updated_at, b.external_id LIMIT %(fetch)s")
    # Unfiltered (first or deep page), the one good plan is the keyset index walk whatever the
    # hotel, cursor or limit, so the prepared generic plan is reused (EXPLAIN on bench/api.py's
    # database: it walks bookings_hotel_updated_id for small and big hotels, first and deep
    # pages). A filter needs custom plans: generic, a status or check-in filter makes the
    # planner pick the check_in index and sort the hotel's whole range (45 ms on the bench).
    filtered = any(params[name] is not None for name in _FILTERS)
    _, (rows,) = auth.hotel_reads(hashed, [(sql, params)], generic_plans=not filtered)
    page = rows[:limit]
    next_cursor = cursor.encode_booking(page[-1][15], page[-1][1]) if len(rows) > limit else None
    return json_response({"data": [_booking(r) for r in page], "next_cursor": next_cursor,
                          "limit": limit})


@bp.get("/api/integrations/pms/bookings/<external_id>/")
def get_booking(external_id: str):
    hashed = key_hash()
    Query(request.args, ())
    if len(external_id) > MAX_EXTERNAL_ID or "\x00" in external_id:
        raise invalid_parameter("external_id", f"external_id is longer than {MAX_EXTERNAL_ID} "
                                               "characters or contains NUL")
    _, (rows,) = auth.hotel_reads(hashed, [(
        f"SELECT {_COLUMNS} {_FROM} WHERE b.hotel_id = {auth.TENANT} AND b.external_id = %(id)s",
        {"id": external_id})])
    if not rows:
        raise ApiError(404, "booking_not_found", "no booking with this external_id for your hotel",
                       {"external_id": external_id})
    return json_response(_booking(rows[0]))


@bp.get("/api/hotels/me/sync-status")
def sync_status():
    hashed = key_hash()
    Query(request.args, ())
    _, (hotels, counts, rejects) = auth.hotel_reads(hashed, [
        (f"""SELECT h.id, h.name, h.pms_type, h.pms_version, h.status, h.poll_interval_s,
                  c.last_attempt_at, c.last_success_at, c.last_error, c.last_error_at,
                  coalesce(c.consecutive_failures, 0), coalesce(c.records_fetched, 0), c.delta_cursor,
                  c.next_attempt_at
             FROM hotels AS h LEFT JOIN sync_checkpoints AS c ON c.hotel_id = h.id
            WHERE h.id = {auth.TENANT}""", {}),
        (f"SELECT hotel_id, status, count(*) FROM bookings WHERE hotel_id = {auth.TENANT} "
         "GROUP BY hotel_id, status", {}),
        (f"SELECT hotel_id, count(*), max(failed_at) FROM dlq_messages WHERE hotel_id = {auth.TENANT} "
         "AND replayed_at IS NULL GROUP BY hotel_id", {}),
    ])
    if not hotels:
        raise ApiError(404, "hotel_not_found", "the hotel of this key no longer exists")
    row = hotels[0]
    by_status = {status: n for _, status, n in counts}
    dlq_pending, last_reject = (rejects[0][1], rejects[0][2]) if rejects else (0, None)
    last_success: datetime | None = row[7]
    lag = (datetime.now(timezone.utc) - last_success).total_seconds() if last_success else None
    return json_response({
        "hotel": {"id": row[0], "name": row[1], "pms_type": row[2], "pms_version": row[3],
                  "status": row[4], "poll_interval_s": row[5]},
        "sync": {"last_attempt_at": row[6], "last_success_at": last_success,
                 "lag_seconds": round(lag, 3) if lag is not None else None,
                 "last_error": row[8], "last_error_at": row[9], "consecutive_failures": row[10],
                 "records_fetched": row[11], "delta_cursor": row[12],
                 "next_attempt_at": row[13]},
        "bookings": {"total": sum(by_status.values()),
                     "by_status": {s: by_status.get(s, 0) for s in STATUSES}},
        "dlq": {"pending": dlq_pending, "last_failed_at": last_reject},
    })
