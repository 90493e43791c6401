"""Each family's endpoint behaves as its config's ``source`` block says: auth, the "changed
since" filter in the family's own time format, and pagination that serves every record once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from pmsync.simulator import Simulator
from tests.unit.test_simulator_truth import T0, FakeClock, compiled_for, walk

FAMILIES = [("generic", "v1"), ("generic", "v2"), ("cloudbeds", "1.1"), ("cloudbeds", "1.2"),
            ("mews", "2017-04-12"), ("mews", "2023-06-06")]


def one_hotel(family: tuple[str, str], **kwargs: Any) -> tuple[Simulator, dict[str, Any], FakeClock]:
    clock = FakeClock()
    sim = Simulator(seed=kwargs.pop("seed", 21), hotels=1, clock=clock, families=[family],
                    invalid_rate=kwargs.pop("invalid_rate", 0.1), **kwargs)
    return sim, sim.hotels()[0], clock


def request(sim: Simulator, hotel: dict[str, Any], *, since: str = "2000-01-01T00:00:00Z",
            credentials: dict[str, str] | None = None, property_id: str | None = None,
            page_size: int = 100) -> tuple[int, Any]:
    """One first-page request built by hand (not from the config) for the negative cases."""
    creds = hotel["credentials"] if credentials is None else credentials
    prop = property_id or hotel["property_id"]
    kind, version = hotel["pms_type"], hotel["pms_version"]
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    body = b""
    if kind == "generic" and version == "v1":
        method, path = "GET", "/v1/reservations"
        query = {"hotelId": prop, "modifiedSince": since}
        headers = {"X-API-Key": creds.get("api_key", "")} if creds else {}
    elif kind == "generic":
        method, path = "GET", "/v2/reservations"
        query = {"property": prop, "updatedSince": since, "offset": "0", "limit": str(page_size)}
        headers = {"X-API-Key": creds.get("api_key", "")} if creds else {}
    elif kind == "cloudbeds":
        method, path = "GET", f"/api/v{version}/getReservations"
        fmt_since = since.replace("T", " ").rstrip("Z") if version == "1.1" else since
        query = {"propertyID": prop, "modifiedFrom": fmt_since, "pageNumber": "1",
                 "pageSize": str(page_size)}
        if creds:
            headers = ({"Authorization": f"Bearer {creds.get('access_token', '')}"}
                       if version == "1.1" else {"x-api-key": creds.get("api_key", "")})
    else:
        method = "POST"
        path = "/api/connector/v1/reservations/getAll" + (
            "" if version == "2017-04-12" else "/2023-06-06")
        window = {"StartUtc": since}
        payload: dict[str, Any] = {"Client": "test", "Limitation": {"Count": page_size}}
        if creds:
            payload.update({"ClientToken": creds.get("client_token", ""),
                            "AccessToken": creds.get("access_token", "")})
        if version == "2017-04-12":
            payload.update({"TimeFilter": "Updated", **window})
        else:
            payload["UpdatedUtc"] = window
        body = orjson.dumps(payload)
    reply = sim.respond(method, path, query, headers, body)
    return reply.status, orjson.loads(reply.body) if reply.body else None


@pytest.mark.parametrize("family", FAMILIES, ids="/".join)
def test_a_request_without_credentials_is_refused(family: tuple[str, str]) -> None:
    sim, hotel, _ = one_hotel(family)
    status, body = request(sim, hotel, credentials={})
    assert status == 401
    assert "error" in body


@pytest.mark.parametrize("family", FAMILIES, ids="/".join)
def test_wrong_credentials_are_refused_and_never_echoed(family: tuple[str, str]) -> None:
    sim, hotel, _ = one_hotel(family)
    wrong = {name: "not-the-secret" for name in hotel["credentials"]}
    status, body = request(sim, hotel, credentials=wrong)
    assert status == 401
    assert "not-the-secret" not in orjson.dumps(body).decode()
    for secret in hotel["credentials"].values():
        assert secret not in orjson.dumps(body).decode()


@pytest.mark.parametrize("family", [f for f in FAMILIES if f[0] != "mews"], ids="/".join)
def test_an_unknown_property_is_not_found(family: tuple[str, str]) -> None:
    sim, hotel, _ = one_hotel(family)
    status, _ = request(sim, hotel, property_id="no-such-hotel")
    assert status == 404


@pytest.mark.parametrize("family", FAMILIES, ids="/".join)
def test_a_since_in_another_format_is_a_400(family: tuple[str, str]) -> None:
    sim, hotel, _ = one_hotel(family)
    status, body = request(sim, hotel, since="yesterday")
    assert status == 400
    assert "yesterday" in body["error"]["message"]


@pytest.mark.parametrize("family", [f for f in FAMILIES if f[0] != "mews"], ids="/".join)
def test_credentials_of_another_hotel_are_refused(family: tuple[str, str]) -> None:
    clock = FakeClock()
    sim = Simulator(seed=2, hotels=2, clock=clock, families=[family])
    first, second = sim.hotels()
    status, _ = request(sim, first, credentials=second["credentials"])
    assert status == 401


@pytest.mark.parametrize("family", [f for f in FAMILIES if f[0] == "mews"], ids="/".join)
def test_mews_tokens_choose_the_property(family: tuple[str, str]) -> None:
    """Mews has no property id on the wire: the access token is the property."""
    sim = Simulator(seed=2, hotels=2, clock=FakeClock(), families=[family], invalid_rate=0.0)
    first, second = sim.hotels()
    status, body = request(sim, first, credentials=second["credentials"])
    assert status == 200
    served = {r["Number"] for r in body["Reservations"]}
    assert served == {b["external_id"] for b in sim.truth(second["id"])["bookings"]}
    assert served.isdisjoint(b["external_id"] for b in sim.truth(first["id"])["bookings"])
    mixed = {**first["credentials"], "client_token": second["credentials"]["client_token"]}
    assert request(sim, first, credentials=mixed)[0] == 401


@pytest.mark.parametrize("family", FAMILIES, ids="/".join)
def test_changed_since_serves_only_what_changed(family: tuple[str, str]) -> None:
    sim, hotel, clock = one_hotel(family, invalid_rate=0.0)
    clock.advance(3600)
    for _ in range(3):
        sim.tick()
    since = T0 + timedelta(minutes=30)
    compiled = compiled_for(hotel)
    served = [compiled.process(r, compiled.context_for(r, p))
              for p in walk(sim, hotel, since=since.strftime("%Y-%m-%dT%H:%M:%SZ"))
              for r in compiled.records(p)]
    changed = [b for b in sim.truth(hotel["id"])["bookings"]
               if b["source_updated_at"] >= since.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert 0 < len(served) < len(sim.truth(hotel["id"])["bookings"])
    assert sorted(b["external_id"] for b in served) == sorted(b["external_id"] for b in changed)


@pytest.mark.parametrize("family", FAMILIES, ids="/".join)
def test_records_carry_their_updated_at_in_the_family_format(family: tuple[str, str]) -> None:
    sim, hotel, _ = one_hotel(family, invalid_rate=0.0)
    compiled = compiled_for(hotel)
    page = walk(sim, hotel)[0]
    mapped = {b["external_id"]: b for b in
              (compiled.process(r, compiled.context_for(r, page)) for r in compiled.records(page))}
    truth = {b["external_id"]: b["source_updated_at"] for b in sim.truth(hotel["id"])["bookings"]}
    assert {k: v["source_updated_at"] for k, v in mapped.items()} == truth


@settings(max_examples=25, deadline=None)
@given(family=st.sampled_from([f for f in FAMILIES if f != ("generic", "v1")]),
       seed=st.integers(0, 10_000), bookings=st.integers(0, 60), page_size=st.integers(1, 25))
def test_a_paged_walk_serves_every_record_exactly_once(family: tuple[str, str], seed: int,
                                                      bookings: int, page_size: int) -> None:
    sim, hotel, _ = one_hotel(family, seed=seed, initial_bookings=bookings, invalid_rate=0.0)
    compiled = compiled_for(hotel)
    ids = [compiled.process(r, compiled.context_for(r, p))["external_id"]
           for p in walk(sim, hotel, page_size=page_size) for r in compiled.records(p)]
    assert sorted(ids) == sorted(b["external_id"] for b in sim.truth(hotel["id"])["bookings"])
    assert len(ids) == bookings


def test_a_booking_changed_mid_walk_never_hides_another() -> None:
    """Records are served in creation order, so a change during a paged walk cannot shift an
    unread record onto an already-read page."""
    sim, hotel, clock = one_hotel(("generic", "v2"), initial_bookings=30, invalid_rate=0.0)
    compiled = compiled_for(hotel)
    first = request(sim, hotel, page_size=10)[1]
    clock.advance(60)
    for _ in range(5):
        sim.tick()
    seen = {compiled.map(r)["external_id"] for r in compiled.records(first)}
    for offset in (10, 20, 30, 40):
        reply = sim.respond("GET", "/v2/reservations",
                            {"property": hotel["property_id"], "updatedSince": "2000-01-01T00:00:00Z",
                             "offset": str(offset), "limit": "10"},
                            {"X-API-Key": hotel["credentials"]["api_key"]}, b"")
        seen |= {compiled.map(r)["external_id"] for r in compiled.records(orjson.loads(reply.body))}
    assert {b["external_id"] for b in sim.truth(hotel["id"])["bookings"]} <= seen


@pytest.mark.parametrize("family", FAMILIES, ids="/".join)
def test_the_simulator_serves_what_the_config_source_block_names(family: tuple[str, str]) -> None:
    from pmsync.simulator.render import FAMILIES as SERVED
    served = SERVED[family]
    sim, hotel, _ = one_hotel(family)
    source = compiled_for(hotel).source
    assert (source["request"]["method"], source["request"]["path"]) == (served.method, served.path)
    assert source["pagination"]["type"] == served.pagination
    used = set(re.findall(r"\$\{credential\.([A-Za-z0-9_]+)\}",
                          orjson.dumps(source["request"]).decode()))
    assert used == set(hotel["credentials"])
