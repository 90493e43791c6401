"""Request bodies of the routes that read one (DLQ replay, config upload): whatever arrives,
the answer is the documented shape with a 2xx or 4xx, never a 500."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.api.body import MAX_DEPTH, nesting_exceeds
from tests.api.conftest import bearer

BODY_ROUTES = ["/api/admin/dlq/replay", "/api/admin/pms-configs"]


def _nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"config": ' + b"[" * (depth - 1) + leaf + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 5000, 100_000])
def test_deeply_nested_bodies_are_400_saying_how_deep_is_allowed(client, seed, route, depth):
    response = client.post(route, data=_nested(depth), content_type="application/json",
                           headers=bearer(seed.key(admin=True)))
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_body"
    assert f"more than {MAX_DEPTH} levels" in response.json["error"]["message"]


def test_a_config_nested_to_the_limit_is_checked_like_any_other(client, seed):
    config = {"pms_type": "deep", "version": "1", "raw_data_schema": {}}
    node: dict = config
    for _ in range(MAX_DEPTH - 3):
        node["x"] = {}
        node = node["x"]
    assert not nesting_exceeds({"config": config}, MAX_DEPTH)
    response = client.post("/api/admin/pms-configs", json={"config": config, "dry_run": True},
                           headers=bearer(seed.key(admin=True)))
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_config"


@pytest.mark.parametrize("value, limit, exceeds", [
    (1, 0, False), ([], 1, False), ([], 0, True), ({"a": [1, {"b": []}]}, 4, False),
    ({"a": [1, {"b": []}]}, 3, True), ([[[[]]]], 4, False), ([[[[]]]], 3, True),
])
def test_nesting_is_counted_in_containers(value, limit, exceeds):
    assert nesting_exceeds(value, limit) is exceeds


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["ids", "config", "sample", "dry_run", "pms_type", "version", "source",
                         "raw_data_schema", "field_mappings", "x"]) | st.text(max_size=8), children, max_size=4),
    max_leaves=40)


def _deep(draw_depth: int) -> bytes:
    return b"[" * draw_depth + b"]" * draw_depth


_bodies = st.one_of(
    _json.map(lambda v: orjson.dumps(v)),
    st.fixed_dictionaries({"ids": _json}).map(orjson.dumps),
    st.fixed_dictionaries({"config": _json}, optional={"sample": _json, "dry_run": _json}).map(orjson.dumps),
    st.integers(1, 3000).map(lambda d: b'{"config": ' + _deep(d) + b"}"),
    st.integers(1, 3000).map(lambda d: b'{"ids": [1], "sample": ' + _deep(d) + b"}"),
    st.binary(max_size=200),
    st.integers(2**64, 2**80).map(lambda n: b'{"ids": [%d]}' % n),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@given(route=st.sampled_from(BODY_ROUTES), body=_bodies,
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8",
                                     "text/plain", "application/x-www-form-urlencoded", ""]))
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_no_body_on_any_body_route_gets_a_500(client, admin_key, topics, route, body, content_type):
    response = client.post(route, data=body, content_type=content_type or None, headers=bearer(admin_key))
    assert response.status_code < 500, (response.status_code, response.json)
    if response.status_code >= 400:
        assert set(response.json["error"]) == {"code", "message", "details"}


@pytest.fixture
def admin_key(seed) -> str:
    return seed.key(admin=True)
