"""Bad input of every kind is a 4xx with a clear message: never a 500, never foreign data."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.api.conftest import bearer

LIST = "/api/integrations/pms/bookings/"

INJECTIONS = [
    "' OR '1'='1", "'; DROP TABLE bookings; --", "1) OR (1=1", "CONFIRMED' OR hotel_id <> '",
    "\\x00", "%00", "\u0000", "x" * 10_000, "🙂" * 300, "$$ OR true $$", "/* */ UNION SELECT * FROM api_keys",
]


@pytest.mark.parametrize("params, parameter", [
    ({"status": "confirmed"}, "status"),
    ({"status": ""}, "status"),
    ({"check_in_from": "2026-13-01"}, "check_in_from"),
    ({"check_in_from": "01/05/2026"}, "check_in_from"),
    ({"check_in_to": "2026-05-01T00:00:00"}, "check_in_to"),
    ({"check_in_from": "2026-05-02", "check_in_to": "2026-05-01"}, "check_in_to"),
    ({"updated_since": "yesterday"}, "updated_since"),
    ({"updated_since": "2026-05-01T00:00:00"}, "updated_since"),   # no offset: ambiguous
    ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "1e3"}, "limit"),
    ({"limit": "١٢"}, "limit"),                                      # non-ASCII digits
    ({"room_number": "1" * 65}, "room_number"),
    ({"room_number": "1\x00"}, "room_number"),
    ({"cursor": "garbage"}, "cursor"),
    ({"cursor": "x" * 600}, "cursor"),
])
def test_bad_list_parameters_are_400_naming_the_parameter(client, seed, params, parameter):
    key = seed.key(seed.hotel())
    response = client.get(LIST, query_string=params, headers=bearer(key))
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_parameter"
    assert response.json["error"]["details"] == {"parameter": parameter}
    assert parameter in response.json["error"]["message"]


def test_unknown_and_repeated_parameters_are_refused(client, seed):
    key = seed.key(seed.hotel())
    response = client.get(LIST, query_string={"stauts": "CONFIRMED"}, headers=bearer(key))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "unknown_parameter"
    assert "stauts" in response.json["error"]["message"]
    response = client.get(f"{LIST}?status=CONFIRMED&status=CANCELLED", headers=bearer(key))
    assert response.status_code == 400


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()


@pytest.mark.parametrize("value", [
    ["b1", "2026-04-01T08:00:00+00:00"],
    ["b1", "2026-04-01T08:00:00", "R-1"],                  # naive
    ["b1", 12, "R-1"],
    ["b1", "2026-04-01T08:00:00+00:00", None],
    ["b1", "2026-04-01T08:00:00+00:00", "R\u0000"],
    ["d1", 5],                                            # a DLQ cursor on the bookings list
    {"b1": 1},
    "b1",
])
def test_forged_cursors_are_400(client, seed, value):
    key = seed.key(seed.hotel())
    response = client.get(LIST, query_string={"cursor": _cursor(value)}, headers=bearer(key))
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"parameter": "cursor"}


def test_a_well_formed_cursor_cannot_reach_another_hotel(client, seed):
    mine, other = seed.hotel(), seed.hotel()
    seed.bookings(other, 5)
    key = seed.key(mine)
    cursor = _cursor(["b1", "1970-01-01T00:00:00+00:00", "A"])
    response = client.get(LIST, query_string={"cursor": cursor}, headers=bearer(key))
    assert response.status_code == 200
    assert response.json["data"] == []


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_attempts_in_every_parameter_never_500_nor_leak(client, seed, payload):
    mine, other = seed.hotel(), seed.hotel()
    seed.booking(mine, "MINE")
    seed.booking(other, "THEIRS")
    key = seed.key(mine)
    for name in ("status", "check_in_from", "check_in_to", "updated_since", "room_number", "limit", "cursor"):
        response = client.get(LIST, query_string={name: payload}, headers=bearer(key))
        assert response.status_code in (200, 400), (name, response.status_code)
        if response.status_code == 200:
            assert all(b["hotel_id"] == mine for b in response.json["data"])
        assert b"THEIRS" not in response.data
    response = client.get(f"{LIST}{payload}/", headers=bearer(key))
    assert response.status_code in (400, 404), response.status_code
    assert b"THEIRS" not in response.data
    admin = seed.key(admin=True)
    for name in ("hotel", "stage", "error_class", "since", "cursor"):
        response = client.get("/api/admin/dlq", query_string={name: payload}, headers=bearer(admin))
        assert response.status_code in (200, 400), (name, response.status_code)


def test_unknown_routes_and_methods_answer_in_the_error_shape(client, seed):
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert set(response.json["error"]) == {"code", "message", "details"}
    response = client.delete(LIST, headers=bearer(seed.key(seed.hotel())))
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"ids": "1"}', "application/json", 400),
    (b'{"ids": []}', "application/json", 400),
    (b'{"ids": [true]}', "application/json", 400),
    (b'{"ids": [0]}', "application/json", 400),
    (b'{"ids": [1.5]}', "application/json", 400),
    (b'{"ids": [99999999999999999999999]}', "application/json", 400),
    (b'{"ids": [1], "extra": 1}', "application/json", 400),
    (b"ids=1", "application/x-www-form-urlencoded", 415),
    (b'{"ids": [' + b"1," * 3_000_000 + b"1]}", "application/json", 413),
])
def test_bad_replay_bodies_are_4xx(client, seed, body, content_type, status):
    admin = seed.key(admin=True)
    response = client.post("/api/admin/dlq/replay", data=body, content_type=content_type,
                           headers=bearer(admin))
    assert response.status_code == status, response.json
    assert set(response.json["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("body", [
    b"{}", b'{"config": []}', b'{"config": {}, "dry_run": "yes"}', b'{"config": {}, "oops": 1}', b"null",
])
def test_bad_config_upload_bodies_are_400(client, seed, body):
    admin = seed.key(admin=True)
    response = client.post("/api/admin/pms-configs", data=body, content_type="application/json",
                           headers=bearer(admin))
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_body"
