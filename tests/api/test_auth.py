"""API keys and tenant isolation: who may call what, and the database's own guarantee."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

import services.api.auth as auth
from pmsync.apikeys import create_key, hash_key, revoke_key
from services.api import create_app
from tests.api.conftest import bearer

LIST = "/api/integrations/pms/bookings/"
HOTEL_ROUTES = [LIST, f"{LIST}R-1/", "/api/hotels/me/sync-status"]
ADMIN_ROUTES = ["/api/admin/dlq", "/api/admin/pms-configs"]


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer not-a-key"},
    {"Authorization": "Bearer pmk_" + "A" * 43},          # well formed, unknown
    {"Authorization": "Bearer pmk_" + "A" * 5000},        # oversized
    {"Authorization": "Bearer ' OR 1=1 --"},
])
def test_missing_malformed_or_unknown_keys_get_401(client, headers):
    for route in HOTEL_ROUTES + ADMIN_ROUTES:
        response = client.get(route, headers=headers)
        assert response.status_code == 401, route
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_at_once(client, seed, database):
    hotel = seed.hotel()
    created = create_key(database.dsn, hotel_id=hotel)
    assert client.get(LIST, headers=bearer(created.key)).status_code == 200
    assert revoke_key(database.dsn, created.prefix)
    assert client.get(LIST, headers=bearer(created.key)).status_code == 401
    assert not revoke_key(database.dsn, created.prefix)


def test_keys_are_stored_only_as_their_hash(seed, db, database):
    created = create_key(database.dsn, admin=True)
    row = db.execute("SELECT key_prefix, key_hash FROM api_keys WHERE id = %s", (created.id,)).fetchone()
    assert row == (created.key[:12], hash_key(created.key))
    assert created.key not in str(db.execute("SELECT * FROM api_keys").fetchall())


def test_hotel_keys_are_refused_on_admin_routes_and_admin_keys_on_hotel_routes(client, seed):
    hotel_key = seed.key(seed.hotel())
    admin_key = seed.key(admin=True)
    for route in ADMIN_ROUTES:
        response = client.get(route, headers=bearer(hotel_key))
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
        assert client.get(route, headers=bearer(admin_key)).status_code == 200
    for route in HOTEL_ROUTES:
        response = client.get(route, headers=bearer(admin_key))
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert client.post("/api/admin/dlq/replay", json={"ids": [1]},
                       headers=bearer(hotel_key)).status_code == 403


def test_the_database_hides_other_hotels_even_if_the_code_asks_for_them(client, seed, monkeypatch):
    """Simulate a bug that makes the queries name another hotel: row-level security still
    answers with the key's hotel only (here: nothing)."""
    mine, victim = seed.hotel(), seed.hotel()
    seed.bookings(victim, 3)
    seed.booking(mine, "MINE")
    key = seed.key(mine)
    monkeypatch.setattr(auth, "TENANT", f"'{victim}'")
    listed = client.get(LIST, headers=bearer(key))
    assert listed.status_code == 200
    assert listed.json["data"] == []
    assert client.get(f"{LIST}R-00000/", headers=bearer(key)).status_code == 404
    assert client.get("/api/hotels/me/sync-status", headers=bearer(key)).status_code == 404


def test_the_code_refuses_foreign_rows_even_if_the_database_returned_them(settings, seed, monkeypatch):
    """And the other way round: with the API misconfigured to log in as the owner (no
    row-level security) and the same query bug, the code's own check refuses the response."""
    mine, victim = seed.hotel(), seed.hotel()
    seed.booking(victim, "THEIRS", last_name="victim-guest")
    key = seed.key(mine)
    monkeypatch.setattr(auth, "TENANT", f"'{victim}'")
    app = create_app(dataclasses.replace(settings, api_database_url=settings.database_url), pool_size=1)
    try:
        response = app.test_client().get(LIST, headers=bearer(key))
    finally:
        app.extensions["pmsync_pool"].close()
    assert response.status_code == 500
    assert b"THEIRS" not in response.data and b"victim" not in response.data


def test_api_role_transaction_without_a_key_sees_nothing(database, seed):
    hotel = seed.hotel()
    seed.bookings(hotel, 2)
    with psycopg.connect(database.api_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM bookings WHERE hotel_id = %s", (hotel,)).fetchone()[0] == 0


def test_the_tenant_lasts_for_one_request_only(settings, seed):
    """Hotel reads run on autocommit connections as one pipelined implicit transaction: the
    reads see the tenant authentication set, and the pooled connection comes back with none."""
    hotel = seed.hotel()
    seed.bookings(hotel, 2)
    key = seed.key(hotel)
    app = create_app(settings, pool_size=1)
    try:
        with app.test_request_context(LIST, headers=bearer(key)):
            principal, (rows,) = auth.hotel_reads(hash_key(key), [(
                f"SELECT {auth.TENANT}, count(*), now() = statement_timestamp() FROM bookings", {})])
            assert principal.hotel_id == hotel
            # now() is when the transaction began, statement_timestamp() when this read did:
            # they differ only if an earlier statement (authentication) began the transaction.
            assert rows == [(hotel, 2, False)]
        assert app.test_client().get(LIST, headers=bearer(key)).json["data"]
        with app.app_context(), app.extensions["pmsync_pool"].connection() as conn:
            assert conn.execute("SELECT current_setting('pmsync.hotel_id', true), "
                                "current_setting('pmsync.key_hash', true), count(*) FROM bookings"
                                ).fetchone() in (("", "", 0), (None, None, 0))
    finally:
        app.extensions["pmsync_pool"].close()


def test_generic_plans_are_asked_for_one_transaction_only(settings, seed):
    """An unfiltered list reuses its prepared generic plan (its best plan does not depend on
    the values); the setting ends with the transaction, so the connection keeps planning
    every other read (filtered lists, admin routes) with its values."""
    hotel = seed.hotel()
    seed.bookings(hotel, 3)
    key = seed.key(hotel)
    app = create_app(settings, pool_size=1)
    try:
        client = app.test_client()
        # Hotel reads are prepared on first use (db.run_pipeline); several runs of each.
        for _ in range(8):
            assert len(client.get(LIST, query_string={"limit": 2}, headers=bearer(key)).json["data"]) == 2
            assert client.get(LIST, query_string={"status": "CONFIRMED"}, headers=bearer(key)).json["data"]
        with app.app_context(), app.extensions["pmsync_pool"].connection() as conn:
            assert conn.execute("SHOW plan_cache_mode").fetchone() == ("force_custom_plan",)
            plans = conn.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                                 "WHERE statement LIKE '%FROM bookings%'").fetchall()
        unfiltered = [p for p in plans if "b.status =" not in p[0]]
        filtered = [p for p in plans if "b.status =" in p[0]]
        assert unfiltered and all(generic > 0 and custom == 0 for _, generic, custom in unfiltered)
        assert filtered and all(generic == 0 and custom > 0 for _, generic, custom in filtered)
    finally:
        app.extensions["pmsync_pool"].close()


def test_the_api_role_sees_only_the_key_row_whose_hash_it_presents(database, seed):
    """Authentication reads api_keys as the API role: row-level security shows it the row of
    the hash it put in the transaction, only while the key is active, and never lets it list
    keys, read another key's hash or read the columns authentication does not need."""
    hotel = seed.hotel()
    mine = create_key(database.dsn, hotel_id=hotel)
    other = create_key(database.dsn, hotel_id=hotel)
    admin = create_key(database.dsn, admin=True)
    with psycopg.connect(database.api_dsn, autocommit=True) as api:
        assert api.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)
        with api.transaction():
            api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(mine.key),))
            # Whatever the query asks for, only the presented key's row is there.
            assert api.execute("SELECT id, key_hash, hotel_id, is_admin FROM api_keys "
                               "WHERE key_hash <> '' OR is_admin OR key_hash IS NULL").fetchall() \
                == [(mine.id, hash_key(mine.key), hotel, False)]
            assert api.execute("SELECT count(*) FROM api_keys WHERE id IN (%s, %s)",
                               (other.id, admin.id)).fetchone() == (0,)
        # The setting ends with its transaction.
        assert api.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)
        for hidden in ("key_prefix", "name", "created_at", "*"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute(f"SELECT {hidden} FROM api_keys")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api.execute("UPDATE api_keys SET revoked_at = NULL")
        assert revoke_key(database.dsn, mine.prefix)
        with api.transaction():
            api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(mine.key),))
            assert api.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)
