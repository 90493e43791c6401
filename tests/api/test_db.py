"""``db.run_pipeline``: the hotel routes' lean pipeline keeps psycopg's guarantees (errors
raised as psycopg raises them, the connection left idle, prepared statements that survive
the server forgetting them)."""

from __future__ import annotations

import psycopg
import pytest

from services.api import create_app
from services.api.db import run_pipeline
from tests.api.conftest import bearer

LIST = "/api/integrations/pms/bookings/"
_PREPARED = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pmsync_%'"


@pytest.fixture
def one_connection_app(settings):
    app = create_app(settings, pool_size=1)
    yield app
    app.extensions["pmsync_pool"].close()


def _pooled(app):
    return app.extensions["pmsync_pool"].connection()


def test_statements_are_prepared_once_and_again_after_the_server_forgot_them(one_connection_app, seed):
    hotel = seed.hotel()
    seed.bookings(hotel, 3)
    key = seed.key(hotel)
    client = one_connection_app.test_client()
    for _ in range(3):
        assert len(client.get(LIST, headers=bearer(key)).json["data"]) == 3
    with _pooled(one_connection_app) as conn:
        # Key, look-up and list: prepared on first use, reused since.
        assert conn.execute(_PREPARED).fetchone() == (3,)
        # psycopg sends this itself after a rollback on a connection it prepared on.
        conn.execute("DEALLOCATE ALL")
    assert len(client.get(LIST, headers=bearer(key)).json["data"]) == 3
    with _pooled(one_connection_app) as conn:
        assert conn.execute(_PREPARED).fetchone() == (3,)


def test_an_error_is_raised_and_the_connection_stays_idle_and_usable(one_connection_app):
    with _pooled(one_connection_app) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            run_pipeline(conn, [("SELECT set_config('pmsync.hotel_id', 'x', true)", {}),
                                ("SELECT 1 / %(zero)s", {"zero": 0}),
                                ("SELECT 2", {})])
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert run_pipeline(conn, [("SELECT current_setting('pmsync.hotel_id', true)", {}),
                                   ("SELECT %(n)s::int + 1", {"n": 1})]) == [[("",)], [(2,)]]


def test_past_the_bound_statements_run_unprepared(one_connection_app, monkeypatch):
    monkeypatch.setattr("services.api.db.MAX_PREPARED", 0)
    with _pooled(one_connection_app) as conn:
        assert run_pipeline(conn, [("SELECT %(n)s::int * 2", {"n": 21})]) == [[(42,)]]
        assert conn.execute(_PREPARED).fetchone() == (0,)
