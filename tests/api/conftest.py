"""Fixtures for the API tests: an app on the real test database, and a seeder that writes
hotels, bookings (with their guest), checkpoints, DLQ rows and keys with the owner connection.

The test database is shared by the whole session, so every test makes its own hotels (unique
ids) and asserts only about them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from pmsync.apikeys import create_key
from pmsync.settings import Settings
from services.api import create_app

BASE_TIME = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)


class Seeder:
    def __init__(self, conn: psycopg.Connection, dsn: str) -> None:
        self.conn = conn
        self.dsn = dsn

    def hotel(self, prefix: str = "h") -> str:
        hotel_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.conn.execute("INSERT INTO hotels (id, name, pms_type, pms_version, base_url, property_id) "
                          "VALUES (%s, %s, 'generic', '1', 'http://127.0.0.1:1', %s)",
                          (hotel_id, f"Hotel {hotel_id}", hotel_id))
        return hotel_id

    def key(self, hotel_id: str | None = None, admin: bool = False) -> str:
        return create_key(self.dsn, hotel_id=hotel_id, admin=admin).key

    def booking(self, hotel_id: str, external_id: str, **fields: Any) -> dict[str, Any]:
        row = {
            "hotel_id": hotel_id, "external_id": external_id, "status": "CONFIRMED",
            "check_in": "2026-05-01", "check_out": "2026-05-04", "room_number": "204",
            "room_type": "DBL", "adults": 2, "children": 0, "total_amount": "450.00",
            "currency": "EUR", "source_updated_at": BASE_TIME, "pms_type": "generic",
            "pms_version": "1", "config_hash": "c0ffee", "source_topic": "pms.raw.v1",
            "source_partition": 0, "source_offset": 0,
        }
        guest = {"first_name": fields.pop("first_name", "Ana"), "last_name": fields.pop("last_name", "Silva"),
                 "email": fields.pop("email", None), "phone": fields.pop("phone", None)}
        row.update(fields)
        row.update({f"guest_{k}": v for k, v in guest.items()})
        cols = list(row)
        self.conn.execute(f"INSERT INTO bookings ({', '.join(cols)}) VALUES ({', '.join('%s' for _ in cols)})",
                          [row[c] for c in cols])
        return {**{k: v for k, v in row.items() if not k.startswith("guest_")}, "guest": guest}

    def bookings(self, hotel_id: str, count: int, **fields: Any) -> list[str]:
        ids = []
        for i in range(count):
            external_id = f"R-{i:05d}"
            self.booking(hotel_id, external_id, source_updated_at=BASE_TIME + timedelta(minutes=i % 7),
                         **fields)
            ids.append(external_id)
        return ids

    def dlq(self, hotel_id: str | None, *, stage: str = "schema", error_class: str = "PMSDataValidationError",
            value: bytes = b'{"reservation": {}}', failed_at: datetime = BASE_TIME) -> int:
        offset = uuid.uuid4().int % 2**62
        row = self.conn.execute(
            """INSERT INTO dlq_messages (dlq_partition, dlq_offset, hotel_id, stage, error_class,
                   error_message, error_path, source_topic, source_partition, source_offset,
                   failed_at, message_key, message_value, headers)
               VALUES (0, %s, %s, %s, %s, 'check_in is missing', '$.reservation', 'pms.raw.v1', 0, 1,
                       %s, %s, %s, '{"error.stage": "schema"}') RETURNING id""",
            (offset, hotel_id, stage, error_class, failed_at,
             hotel_id.encode() if hotel_id else None, value)).fetchone()
        return row[0]


@pytest.fixture
def seed(db: psycopg.Connection, database) -> Seeder:
    return Seeder(db, database.dsn)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings, pool_size=2)
    yield application
    application.extensions["pmsync_pool"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
