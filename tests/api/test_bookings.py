"""The hotel routes: listing, filtering, paging, one booking, sync status."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import BASE_TIME, bearer

LIST = "/api/integrations/pms/bookings/"


def _all_pages(client, key, **params) -> list[dict]:
    seen, cursor = [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(LIST, query_string=query, headers=bearer(key))
        assert response.status_code == 200, response.json
        seen.extend(response.json["data"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return seen


def test_list_returns_canonical_bookings_with_lineage(client, seed):
    hotel = seed.hotel()
    seed.booking(hotel, "R-1001", first_name="Ana", last_name="Silva", email="ana@example.com",
                 children=1, source_offset=42, source_partition=3)
    response = client.get(LIST, headers=bearer(seed.key(hotel)))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    (booking,) = response.json["data"]
    assert booking == {
        "external_id": "R-1001", "status": "CONFIRMED", "check_in": "2026-05-01",
        "check_out": "2026-05-04",
        "guest": {"first_name": "Ana", "last_name": "Silva", "email": "ana@example.com", "phone": None},
        "room_number": "204", "room_type": "DBL", "adults": 2, "children": 1,
        "total_amount": "450.00", "currency": "EUR", "source_updated_at": "2026-04-01T08:00:00Z",
        "hotel_id": hotel, "pms_type": "generic", "pms_version": "1", "config_hash": "c0ffee",
        "source_topic": "pms.raw.v1", "source_partition": 3, "source_offset": 42,
        "loaded_at": booking["loaded_at"],
    }
    assert booking["loaded_at"].endswith("Z")
    assert response.json["next_cursor"] is None


def test_pages_cover_every_booking_once_in_a_stable_order(client, seed):
    hotel = seed.hotel()
    expected = seed.bookings(hotel, 23)
    key = seed.key(hotel)
    rows = _all_pages(client, key, limit=5)
    assert sorted(r["external_id"] for r in rows) == sorted(expected)
    assert len(rows) == len(expected)
    order = [(r["source_updated_at"], r["external_id"]) for r in rows]
    assert order == sorted(order)
    assert _all_pages(client, key, limit=5) == rows


def test_a_booking_updated_between_pages_is_not_lost(client, seed, db):
    hotel = seed.hotel()
    seed.bookings(hotel, 6)
    key = seed.key(hotel)
    first = client.get(LIST, query_string={"limit": 3}, headers=bearer(key)).json
    # R-00005 is on the second page; moving R-00000 (page one) later puts it after the cursor.
    db.execute("UPDATE bookings SET source_updated_at = %s WHERE hotel_id = %s AND external_id = 'R-00000'",
               (BASE_TIME + timedelta(days=1), hotel))
    rest = _all_pages(client, key, limit=3, cursor=first["next_cursor"])
    ids = {r["external_id"] for r in first["data"]} | {r["external_id"] for r in rest}
    assert ids == {f"R-{i:05d}" for i in range(6)}


def test_filters_select_exactly_the_matching_bookings(client, seed):
    hotel = seed.hotel()
    seed.booking(hotel, "A", status="CANCELLED", check_in="2026-05-01", check_out="2026-05-02",
                 room_number="101")
    seed.booking(hotel, "B", status="CONFIRMED", check_in="2026-05-10", check_out="2026-05-12",
                 room_number="102", source_updated_at=BASE_TIME + timedelta(hours=2))
    seed.booking(hotel, "C", status="CONFIRMED", check_in="2026-06-01", check_out="2026-06-03",
                 room_number="101", source_updated_at=BASE_TIME + timedelta(hours=4))
    key = seed.key(hotel)

    def ids(**params) -> list[str]:
        response = client.get(LIST, query_string=params, headers=bearer(key))
        assert response.status_code == 200, response.json
        return [r["external_id"] for r in response.json["data"]]

    assert ids(status="CONFIRMED") == ["B", "C"]
    assert ids(check_in_from="2026-05-01", check_in_to="2026-05-10") == ["A", "B"]
    assert ids(check_in_from="2026-05-02") == ["B", "C"]
    assert ids(updated_since=(BASE_TIME + timedelta(hours=2)).isoformat()) == ["B", "C"]
    assert ids(updated_since="2026-04-01T10:00:01+02:00") == ["B", "C"]
    assert ids(room_number="101") == ["A", "C"]
    assert ids(room_number="101", status="CONFIRMED") == ["C"]
    assert ids(status="NO_SHOW") == []


def test_guest_names_are_returned_as_stored_without_double_escaping(client, seed):
    hotel = seed.hotel()
    seed.booking(hotel, "R-esc", first_name="Zoë &amp; Jo", last_name="O'Brien &lt;b&gt;")
    response = client.get(f"{LIST}R-esc/", headers=bearer(seed.key(hotel)))
    assert response.status_code == 200
    assert response.json["guest"]["first_name"] == "Zoë &amp; Jo"
    assert response.json["guest"]["last_name"] == "O'Brien &lt;b&gt;"


def test_one_booking_by_external_id_and_404_for_unknown_or_foreign(client, seed):
    hotel, other = seed.hotel(), seed.hotel()
    seed.booking(hotel, "R-1")
    seed.booking(other, "R-2")
    key = seed.key(hotel)
    assert client.get(f"{LIST}R-1/", headers=bearer(key)).json["external_id"] == "R-1"
    for missing in ("R-2", "nope"):
        response = client.get(f"{LIST}{missing}/", headers=bearer(key))
        assert response.status_code == 404
        assert response.json["error"]["code"] == "booking_not_found"


def test_sync_status_reports_checkpoint_counts_and_pending_rejects(client, seed, db):
    hotel = seed.hotel()
    seed.bookings(hotel, 3)
    seed.booking(hotel, "X", status="CANCELLED")
    db.execute("""INSERT INTO sync_checkpoints (hotel_id, last_attempt_at, last_success_at, last_error,
                    consecutive_failures, records_fetched)
                  VALUES (%s, now(), now() - interval '90 seconds', 'HTTP 503 from PMS', 2, 77)""", (hotel,))
    seed.dlq(hotel)
    replayed = seed.dlq(hotel)
    db.execute("UPDATE dlq_messages SET replayed_at = now() WHERE id = %s", (replayed,))
    seed.dlq(seed.hotel())  # another hotel's reject is not counted
    body = client.get("/api/hotels/me/sync-status", headers=bearer(seed.key(hotel))).json
    assert body["hotel"]["id"] == hotel
    assert body["bookings"]["total"] == 4
    assert body["bookings"]["by_status"]["CONFIRMED"] == 3
    assert body["bookings"]["by_status"]["CANCELLED"] == 1
    assert body["sync"]["consecutive_failures"] == 2
    assert body["sync"]["records_fetched"] == 77
    assert body["sync"]["last_error"] == "HTTP 503 from PMS"
    assert 89 <= body["sync"]["lag_seconds"] < 200
    assert body["dlq"]["pending"] == 1


def test_sync_status_of_a_hotel_that_never_synced(client, seed):
    hotel = seed.hotel()
    body = client.get("/api/hotels/me/sync-status", headers=bearer(seed.key(hotel))).json
    assert body["sync"]["last_success_at"] is None
    assert body["sync"]["lag_seconds"] is None
    assert body["bookings"]["total"] == 0
