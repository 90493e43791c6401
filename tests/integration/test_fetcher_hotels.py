"""The hotels registry in Postgres, through its module and through ``pmsync hotels``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from pmsync.hotels import Hotel, HotelError, active_hotels, add_hotel, disable_hotel, get_hotel, list_hotels

pytestmark = pytest.mark.integration


def _hotel(**changes) -> Hotel:
    values = dict(id=f"reg-{uuid.uuid4().hex[:8]}", name="Hotel Lisboa", pms_type="cloudbeds",
                  pms_version="1.2", base_url="https://api.pms.example", property_id="P-77",
                  credentials_ref="cb_lisboa", poll_interval_s=120)
    values.update(changes)
    return Hotel(**values)


def test_an_added_hotel_is_active_and_stores_only_its_credentials_reference(db):
    added = add_hotel(db, _hotel())
    assert added.status == "active" and added.credentials_ref == "cb_lisboa"
    assert get_hotel(db, added.id) == added
    assert added.id in [h.id for h in active_hotels(db)]


def test_adding_the_same_id_twice_is_refused(db):
    hotel = add_hotel(db, _hotel())
    with pytest.raises(HotelError, match="already exists"):
        add_hotel(db, _hotel(id=hotel.id))


@pytest.mark.parametrize("changes, says", [
    ({"id": "bad id!"}, "id"),
    ({"base_url": "ftp://x"}, "http"),
    ({"base_url": "https://user:pw@pms.example"}, "credentials"),
    ({"base_url": "https://pms.example/api?key=s"}, "query string"),
    ({"poll_interval_s": 0}, "poll interval"),
    ({"property_id": " "}, "property id"),
    ({"credentials_ref": "../x"}, "credentials reference"),
])
def test_a_hotel_the_fetcher_could_not_poll_is_refused_with_the_reason(db, changes, says):
    with pytest.raises(HotelError, match=says):
        add_hotel(db, _hotel(**changes))


def test_a_disabled_hotel_is_no_longer_active_but_still_listed(db):
    hotel = add_hotel(db, _hotel())
    assert disable_hotel(db, hotel.id).status == "disabled"
    assert hotel.id not in [h.id for h in active_hotels(db)]
    assert hotel.id in [s.hotel.id for s in list_hotels(db)]
    with pytest.raises(HotelError, match="no hotel"):
        disable_hotel(db, "no-such-hotel")


def test_active_hotels_can_be_narrowed_to_ids(db):
    a, b = add_hotel(db, _hotel()), add_hotel(db, _hotel())
    assert [h.id for h in active_hotels(db, [b.id])] == [b.id]
    assert sorted(h.id for h in active_hotels(db, [a.id, b.id])) == sorted([a.id, b.id])


def _pmsync(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "pmsync.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_hotels_commands_add_list_and_disable(settings):
    hotel_id = f"cli-{uuid.uuid4().hex[:8]}"
    added = _pmsync(settings, "hotels", "add", hotel_id, "--pms-type", "generic", "--pms-version", "v9",
                    "--base-url", "http://127.0.0.1:8081", "--property-id", "G-1",
                    "--credentials-ref", "gen_demo", "--poll-interval", "15", "--name", "Demo")
    assert added.returncode == 0, added.stderr
    assert f"added {hotel_id}" in added.stdout and "no PMS config generic/v9" in added.stderr

    again = _pmsync(settings, "hotels", "add", hotel_id, "--pms-type", "generic", "--pms-version", "v9",
                    "--base-url", "http://127.0.0.1:8081", "--property-id", "G-1")
    assert again.returncode != 0 and "already exists" in again.stderr

    listed = _pmsync(settings, "hotels", "list", "--json")
    rows = {r["id"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert rows[hotel_id]["status"] == "active" and rows[hotel_id]["poll_interval_s"] == 15
    assert rows[hotel_id]["credentials_ref"] == "gen_demo" and rows[hotel_id]["name"] == "Demo"

    assert _pmsync(settings, "hotels", "disable", hotel_id).returncode == 0
    listed = _pmsync(settings, "hotels", "list", "--json")
    rows = {r["id"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert rows[hotel_id]["status"] == "disabled"
