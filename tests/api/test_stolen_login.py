"""A stolen API database login cannot switch row-level security off (issue #14).

The attacker here holds the API role's DSN (``pmsync_api``: a leaked environment, a copied
config file) and connects with psycopg directly, bypassing the API code. Whatever it sets or
calls, no statement returns a tenant row or a key row: what the policies see comes only from
the hash of a valid API key (``pmsync.key_hash``), resolved in the policies through
``api_keys``, of which the role sees only the row of a hash it presents. With a valid hotel key's hash it sees exactly that
hotel, as the API does.

Every relation the API role can read is found in the catalogue, so a table or view added by a
later migration is covered without changing this file.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from typing import Callable

import psycopg
import pytest
from psycopg import sql

from pmsync.apikeys import create_key, hash_key, revoke_key

API_ROLE = "pmsync_api"


def readable_relations(conn: psycopg.Connection) -> dict[str, str | None]:
    """Every relation of schema public the API role can SELECT from (whole table or some
    columns), and the column naming its hotel (None when it has none)."""
    rows = conn.execute(
        """SELECT c.relname,
                  (SELECT a.attname FROM pg_attribute AS a
                    WHERE a.attrelid = c.oid AND NOT a.attisdropped
                      AND a.attname = CASE WHEN c.relname = 'hotels' THEN 'id' ELSE 'hotel_id' END)
             FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
              AND (has_table_privilege(%(role)s, c.oid, 'SELECT')
                   OR has_any_column_privilege(%(role)s, c.oid, 'SELECT'))
            ORDER BY 1""", {"role": API_ROLE}).fetchall()
    return dict(rows)


def seen(api: psycopg.Connection, relations: dict[str, str | None]) -> dict[str, list]:
    """Per relation, the hotel of every row the API role sees (None for relations without a
    hotel column, one entry per row). A relation the statement is refused on sees nothing."""
    out: dict[str, list] = {}
    for relation, hotel_column in relations.items():
        column = sql.Identifier(hotel_column) if hotel_column else sql.SQL("NULL")
        try:
            with api.transaction():
                out[relation] = [r[0] for r in api.execute(
                    sql.SQL("SELECT {} FROM {}").format(column, sql.Identifier("public", relation)))]
        except psycopg.errors.InsufficientPrivilege:
            out[relation] = []
    return out


def leaks(api: psycopg.Connection, relations: dict[str, str | None]) -> dict[str, int]:
    """Relations where the API role sees any row, with how many."""
    return {relation: len(rows) for relation, rows in seen(api, relations).items() if rows}


@pytest.fixture
def world(seed, database, db):
    """Two hotels with data in every tenant table, and keys of every kind."""
    mine, victim = seed.hotel("mine"), seed.hotel("victim")
    for hotel in (mine, victim):
        seed.bookings(hotel, 3)
        seed.dlq(hotel)
        db.execute("INSERT INTO rooms (hotel_id, room_number) VALUES (%s, '101')", (hotel,))
        db.execute("INSERT INTO sync_checkpoints (hotel_id) VALUES (%s)", (hotel,))
    seed.dlq(None)
    db.execute("INSERT INTO pms_configs (pms_type, version, body, config_hash) VALUES (%s, '1', '{}', 'x')",
               (f"stolen-{mine}",))
    keys = {"mine": create_key(database.dsn, hotel_id=mine),
            "victim": create_key(database.dsn, hotel_id=victim),
            "admin": create_key(database.dsn, admin=True),
            "revoked": create_key(database.dsn, hotel_id=victim)}
    assert revoke_key(database.dsn, keys["revoked"].prefix)
    return {"mine": mine, "victim": victim, "keys": keys}


@pytest.fixture
def api(database):
    with psycopg.connect(database.api_dsn, autocommit=True) as conn:
        yield conn


def _guesses(world) -> list[str]:
    victim = world["victim"]
    return ["admin", "true", "on", "1", "*", "%", "", victim, f"'{victim}' OR true",
            hashlib.sha256(victim.encode()).hexdigest(), "0" * 64, "f" * 64,
            hash_key(world["keys"]["revoked"].key)]


def _attempts(api: psycopg.Connection, world) -> list[tuple[str, Callable[[], object]]]:
    """Everything a session of the API role can set or call, one attempt each."""
    names = {r[0] for r in api.execute("SELECT name FROM pg_settings WHERE name LIKE 'pmsync.%'")}
    names |= {"pmsync.role", "pmsync.hotel_id", "pmsync.admin", "pmsync.is_admin", "pmsync.tenant",
              "pmsync.scope", "pmsync.key_hash", "pmsync.key_id", "pmsync.hotel"}
    attempts: list[tuple[str, Callable[[], object]]] = []
    for name in sorted(names):
        for value in _guesses(world):
            for local in (True, False):
                attempts.append((f"set_config({name!r}, {value!r}, {local})",
                                 lambda n=name, v=value, lo=local: api.execute(
                                     "SELECT set_config(%s, %s, %s)", (n, v, lo))))

    def everything_at_once() -> None:
        for name in sorted(names):
            for value in ("admin", world["victim"]):
                api.execute("SELECT set_config(%s, %s, false)", (name, value))

    attempts.append(("every pmsync.* setting at once to admin, then victim", everything_at_once))
    for statement in ("SET ROLE pmsync", "SET ROLE postgres", "SET SESSION AUTHORIZATION pmsync",
                      "SET SESSION AUTHORIZATION postgres", "SET LOCAL row_security = off",
                      "SET search_path = pg_temp, public",
                      "ALTER TABLE bookings DISABLE ROW LEVEL SECURITY",
                      "ALTER TABLE bookings NO FORCE ROW LEVEL SECURITY",
                      "DROP POLICY tenant_isolation ON bookings",
                      "CREATE POLICY everything ON bookings USING (true)",
                      "ALTER ROLE pmsync_api BYPASSRLS",
                      "GRANT SELECT ON api_keys TO pmsync_api",
                      "UPDATE api_keys SET revoked_at = NULL, is_admin = true, hotel_id = NULL",
                      "INSERT INTO api_keys (key_prefix, key_hash, is_admin) VALUES ('pmk_x', 'x', true)"):
        # (row_security LOCAL: set for the session, it would make every later read of this
        # test fail, so they would prove nothing.)
        attempts.append((statement, lambda s=statement: api.execute(s)))
    # Every function of the schema the role may call (SECURITY DEFINER or not: pmsync_row_visible
    # is kept for older policies), with guessed arguments.
    functions = api.execute(
        """SELECT p.oid::regprocedure::text, p.proname, p.proargtypes::regtype[]::text[]
             FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.prokind = 'f'
              AND has_function_privilege(current_user, p.oid, 'EXECUTE')""").fetchall()
    for signature, name, types in functions:
        for value in _guesses(world):
            args = [value if t == "text" else None for t in types]
            attempts.append((f"SELECT * FROM {signature} with {value!r}", lambda n=name, a=args: api.execute(
                sql.SQL("SELECT * FROM {}({})").format(
                    sql.Identifier(n), sql.SQL(", ").join(sql.Literal(x) for x in a))).fetchall()))
    return attempts


def _shadow(api: psycopg.Connection, victim: str) -> None:
    """Shadow what the key functions read: a temporary api_keys holding a forged admin and
    victim key (a temporary table comes first on any search_path that does not place pg_temp
    itself), temporary functions named like the real ones, and the forged hash presented."""
    forged = hashlib.sha256(b"forged").hexdigest()
    api.execute("CREATE TEMP TABLE api_keys (id bigint, key_prefix text, key_hash text, "
                "hotel_id text, is_admin boolean, name text, created_at timestamptz, "
                "revoked_at timestamptz, expires_at timestamptz)")
    api.execute("INSERT INTO pg_temp.api_keys VALUES (1, 'pmk_f', %s, NULL, true, NULL, now(), NULL, NULL),"
                " (2, 'pmk_g', %s, %s, false, NULL, now(), NULL, NULL)", (forged, forged, victim))
    # So that a SECURITY DEFINER look-up (running as the owner) could read it, as 0009's
    # functions would have with an unpinned search_path.
    api.execute("GRANT SELECT ON pg_temp.api_keys TO PUBLIC")
    for function, returns, body in (("pmsync_key_hotel", "text", f"SELECT '{victim}'::text"),
                                    ("pmsync_key_is_admin", "boolean", "SELECT true"),
                                    ("pmsync_row_visible", "boolean", "SELECT true")):
        api.execute(f"CREATE FUNCTION pg_temp.{function}() RETURNS {returns} LANGUAGE sql AS $$ {body} $$")
    api.execute("SELECT set_config('pmsync.key_hash', %s, false), set_config('pmsync.role', 'admin', false), "
                "set_config('pmsync.hotel_id', %s, false)", (forged, victim))


def test_temporary_objects_cannot_stand_in_for_api_keys_or_the_key_functions(database, world, db):
    """In a fresh session, before the key functions ever ran (so no cached plan hides it)."""
    relations = readable_relations(db)
    with psycopg.connect(database.api_dsn, autocommit=True) as api:
        _shadow(api, world["victim"])
        assert leaks(api, relations) == {}
        api.execute("SET search_path = pg_temp, public")
        assert leaks(api, relations) == {}


def test_a_stolen_api_login_sees_no_tenant_row_and_no_key_whatever_it_sets_or_calls(api, world, db):
    relations = readable_relations(db)
    assert {"bookings", "hotels", "dlq_messages", "api_keys"} <= set(relations)
    untouched = leaks(api, relations)
    failures: list[tuple] = [("a session that sets nothing", untouched)] if untouched else []
    for label, attempt in _attempts(api, world):
        # An attempt the server refuses is fine; what matters is what is read afterwards, in
        # the same session (settings made with is_local false stay for the session).
        try:
            with api.transaction():
                returned = attempt()
                found = leaks(api, relations)
        except psycopg.Error:
            returned, found = None, {}
        session_wide = leaks(api, relations)
        # A function called with a guessed argument must return nothing usable.
        if isinstance(returned, list) and any(v not in (None, False) for row in returned for v in row):
            failures.append((label, "returned", returned))
        if found or session_wide:
            failures.append((label, found or session_wide))
    assert failures == []


def test_what_the_api_role_can_inspect_gives_no_key_or_tenant_data_away(api, world, db, client):
    hashes = {hash_key(k.key) for k in world["keys"].values()}
    # A request through the app puts a key hash in a transaction of another session.
    assert client.get("/api/integrations/pms/bookings/",
                      headers={"Authorization": f"Bearer {world['keys']['mine'].key}"}).status_code == 200
    texts = [str(r) for r in api.execute("SELECT name, setting, reset_val, boot_val FROM pg_settings")]
    texts += [str(r) for r in api.execute("SELECT query FROM pg_stat_activity")]
    assert not [t for t in texts if any(h in t for h in hashes)]
    # Statistics would show sampled values of the tenant tables; Postgres hides them from a
    # role subject to row-level security.
    db.execute("ANALYZE bookings")
    assert api.execute("SELECT count(*) FROM pg_stats WHERE tablename IN ('bookings', 'hotels', "
                       "'dlq_messages', 'api_keys')").fetchone() == (0,)


def test_with_a_valid_hotel_key_hash_the_api_role_sees_exactly_that_hotel(api, world, db):
    relations = readable_relations(db)
    mine, key = world["mine"], world["keys"]["mine"]
    with api.transaction():
        api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(key.key),))
        visible = seen(api, relations)
    for relation, column in relations.items():
        if relation == "api_keys":
            assert len(visible[relation]) == 1, "only the presented key's row"
        elif column is None:
            assert visible[relation] == [], f"{relation} has no hotel: a hotel key sees none of it"
        else:
            expected = db.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                sql.Identifier(relation), sql.Identifier(column)), (mine,)).fetchone()[0]
            assert set(visible[relation]) <= {mine}, relation
            assert len(visible[relation]) == expected, relation
    assert len(visible["bookings"]) == 3 and visible["hotels"] == [mine]
    # The key's hotel comes from the key: claiming another hotel or admin on top changes nothing.
    with api.transaction():
        api.execute("SELECT set_config('pmsync.key_hash', %s, true), set_config('pmsync.role', 'admin', true), "
                    "set_config('pmsync.hotel_id', %s, true)", (hash_key(key.key), world["victim"]))
        assert seen(api, relations) == visible


def test_an_admin_key_hash_shows_the_dlq_and_configs_but_no_hotel_data(api, world, db):
    relations = readable_relations(db)
    with api.transaction():
        api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(world["keys"]["admin"].key),))
        visible = seen(api, relations)
    assert len(visible["dlq_messages"]) == db.execute("SELECT count(*) FROM dlq_messages").fetchone()[0]
    for relation in ("bookings", "hotels", "rooms", "sync_checkpoints", "guests"):
        assert visible[relation] == [], relation


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("key, relation", [("mine", "bookings"), ("admin", "dlq_messages")])
def test_the_policies_look_the_key_up_once_per_statement_not_per_row(api, world, db, key, relation):
    """A per-row look-up would multiply the cost of every page by its rows (0009's comment)."""
    with api.transaction():
        api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(world["keys"][key].key),))
        (plan,), = api.execute(sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM {}").format(
            sql.Identifier("public", relation))).fetchone()
    nodes = list(_nodes(plan["Plan"]))
    scanned = [n for n in nodes if n.get("Relation Name") == relation]
    lookups = [n for n in nodes if n.get("Relation Name") == "api_keys"]
    assert scanned and sum(n["Actual Rows"] for n in scanned) >= 3  # several rows, one look-up
    assert lookups and all(n["Actual Loops"] <= 1 for n in lookups), lookups
