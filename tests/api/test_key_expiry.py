"""Optional key expiry: ``pmsync apikey create --expires``, 401 key_expired, and row-level
security treating an expired key as no key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from click.testing import CliRunner

import pmsync.settings
from pmsync.apikeys import ApiKeyError, create_key, hash_key, parse_expiry
from pmsync.cli import main
from tests.api.conftest import bearer

NOW = datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc)
LIST = "/api/integrations/pms/bookings/"


@pytest.mark.parametrize("text, expected", [
    ("12h", NOW + timedelta(hours=12)),
    ("30d", NOW + timedelta(days=30)),
    ("8w", NOW + timedelta(weeks=8)),
    ("2027-01-31", datetime(2027, 2, 1, tzinfo=timezone.utc)),            # through that day
    ("2027-01-31T18:00:00+01:00", datetime(2027, 1, 31, 17, tzinfo=timezone.utc)),
    ("2027-01-31T18:00:00Z", datetime(2027, 1, 31, 18, tzinfo=timezone.utc)),
])
def test_expiry_is_a_duration_a_date_or_a_date_time_with_offset(text, expected):
    assert parse_expiry(text, NOW) == expected


@pytest.mark.parametrize("text, says", [
    ("30", "duration"), ("0d", "duration"), ("tomorrow", "duration"), ("30 d", "duration"),
    ("2027-01-31T18:00:00", "no UTC offset"),
    ("2026-11-30", "in the past"), ("2026-12-01T10:00:00Z", "in the past"),
])
def test_unclear_or_past_expiries_are_refused_saying_what_to_give(text, says):
    with pytest.raises(ApiKeyError, match=says):
        parse_expiry(text, NOW)


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setattr(pmsync.settings, "_settings", settings)
    return CliRunner()


def test_apikey_create_with_expires_stores_it_and_list_shows_it(cli, seed, db):
    hotel = seed.hotel()
    created = cli.invoke(main, ["apikey", "create", "--hotel", hotel, "--expires", "30d"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    expires_at = db.execute("SELECT expires_at FROM api_keys WHERE key_hash = %s", (hash_key(key),)).fetchone()[0]
    assert abs(expires_at - (datetime.now(timezone.utc) + timedelta(days=30))) < timedelta(minutes=5)
    listed = [line for line in cli.invoke(main, ["apikey", "list"]).stdout.splitlines() if key[:12] in line]
    assert listed and f"expires {expires_at:%Y-%m-%d %H:%M}Z" in listed[0] and "active" in listed[0]
    db.execute("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE key_hash = %s", (hash_key(key),))
    listed = [line for line in cli.invoke(main, ["apikey", "list"]).stdout.splitlines() if key[:12] in line]
    assert "expired" in listed[0]
    refused = cli.invoke(main, ["apikey", "create", "--hotel", hotel, "--expires", "yesterday"])
    assert refused.exit_code == 1 and "duration" in refused.output


def _expire(db, key: str) -> None:
    """The passing of time: the key's expiry is now behind it."""
    db.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE key_hash = %s",
               (hash_key(key),))


def test_an_expired_key_gets_401_key_expired_on_every_route(client, seed, db, database):
    hotel = seed.hotel()
    seed.booking(hotel, "R-1")
    hotel_key = create_key(database.dsn, hotel_id=hotel, expires_at=datetime.now(timezone.utc) + timedelta(days=1)).key
    admin_key = create_key(database.dsn, admin=True, expires_at=datetime.now(timezone.utc) + timedelta(days=1)).key
    assert client.get(LIST, headers=bearer(hotel_key)).json["data"][0]["external_id"] == "R-1"
    assert client.get("/api/admin/dlq", headers=bearer(admin_key)).status_code == 200
    _expire(db, hotel_key)
    _expire(db, admin_key)
    for route, key in ((LIST, hotel_key), (f"{LIST}R-1/", hotel_key), ("/api/hotels/me/sync-status", hotel_key),
                       ("/api/admin/dlq", admin_key), ("/api/admin/pms-configs", admin_key)):
        response = client.get(route, headers=bearer(key))
        assert response.status_code == 401, route
        assert response.json["error"]["code"] == "key_expired"
        assert "expired at" in response.json["error"]["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert key not in response.get_data(as_text=True)


def test_row_level_security_treats_an_expired_key_as_no_key(seed, db, database):
    hotel = seed.hotel()
    seed.bookings(hotel, 2)
    seed.dlq(hotel)
    hotel_key = create_key(database.dsn, hotel_id=hotel, expires_at=datetime.now(timezone.utc) + timedelta(days=1)).key
    admin_key = create_key(database.dsn, admin=True, expires_at=datetime.now(timezone.utc) + timedelta(days=1)).key

    def visible(key: str) -> tuple[int, int]:
        with psycopg.connect(database.api_dsn) as api:
            api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(key),))
            return (api.execute("SELECT count(*) FROM bookings").fetchone()[0],
                    api.execute("SELECT count(*) FROM dlq_messages").fetchone()[0])

    assert visible(hotel_key) == (2, 1)
    assert visible(admin_key)[1] >= 1
    _expire(db, hotel_key)
    _expire(db, admin_key)
    assert visible(hotel_key) == (0, 0)
    assert visible(admin_key) == (0, 0)
