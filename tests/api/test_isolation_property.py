"""Property: for any hotel's key and any filters (valid or not), no response of any hotel route
ever contains another hotel's booking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from pmsync.booking import STATUSES
from tests.api.conftest import BASE_TIME, bearer

LIST = "/api/integrations/pms/bookings/"


@pytest.fixture
def tenants(seed):
    """Four hotels whose bookings share external ids, rooms, statuses and dates, so only the
    tenant tells them apart."""
    out = {}
    for n in range(4):
        hotel = seed.hotel("prop")
        for i in range(8):
            seed.booking(hotel, f"R-{i}", status=STATUSES[i % len(STATUSES)],
                         check_in=f"2026-05-0{1 + i % 5}", check_out="2026-05-09",
                         room_number=str(100 + i % 3), source_updated_at=BASE_TIME + timedelta(hours=i),
                         last_name=f"guest-of-{hotel}")
        out[hotel] = seed.key(hotel)
    return out


_dates = st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12)
_filters = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(STATUSES) | st.text(max_size=12),
    "check_in_from": _dates, "check_in_to": _dates,
    "updated_since": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.text(max_size=12),
    "room_number": st.sampled_from(["100", "101", "102"]) | st.text(max_size=70),
    "limit": st.integers(-5, 600).map(str),
})


@hypothesis_settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), params=_filters, external_id=st.sampled_from([f"R-{i}" for i in range(9)]),
       pages=st.integers(1, 4))
def test_no_response_ever_contains_another_hotels_booking(client, tenants, data, params, external_id, pages):
    hotel = data.draw(st.sampled_from(sorted(tenants)))
    others = [h for h in tenants if h != hotel]
    headers = bearer(tenants[hotel])
    responses = []
    response = client.get(LIST, query_string=params, headers=headers)
    responses.append(response)
    for _ in range(pages - 1):
        if response.status_code != 200 or not response.json["next_cursor"]:
            break
        response = client.get(LIST, query_string={**params, "cursor": response.json["next_cursor"]},
                              headers=headers)
        responses.append(response)
    responses.append(client.get(f"{LIST}{external_id}/", headers=headers))
    responses.append(client.get("/api/hotels/me/sync-status", headers=headers))
    for r in responses:
        assert r.status_code in (200, 400, 404), r.json
        assert not any(other.encode() in r.data for other in others)
        if r.status_code == 200 and "data" in r.json:
            assert {b["hotel_id"] for b in r.json["data"]} <= {hotel}
