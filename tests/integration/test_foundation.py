"""The ground every other test stands on: Kafka round-trips, migrations, tenant isolation."""

from __future__ import annotations

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from pmsync.db.migrate import available, migrate
from pmsync.kafka.topics import create_topics, topic_specs


def test_messages_round_trip_through_kafka_in_key_order(settings, topics):
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             enable_idempotence=True)
    for i in range(20):
        producer.send(topics.raw, key=b"hotel-1", value=f"r{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topics.raw, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000,
                             group_id="smoke")
    values = [m.value for m in consumer]
    consumer.close()
    assert values == [f"r{i}".encode() for i in range(20)]


def test_topics_are_created_once_with_their_settings(settings):
    first = create_topics(settings)
    second = create_topics(settings)
    assert all(v.startswith("created") for v in first.values())
    assert set(second.values()) == {"exists"}
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics([s.name for s in topic_specs(settings)])}
    finally:
        admin.close()
    assert len(described[settings.topics.raw]["partitions"]) == settings.partitions
    assert len(described[settings.topics.configs]["partitions"]) == 1


def test_migrating_twice_applies_each_file_once(database):
    assert migrate(database.dsn) == []
    with psycopg.connect(database.dsn) as conn:
        recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert recorded == [m.version for m in available()]


def _add_booking(conn, hotel: str, external_id: str) -> None:
    conn.execute("INSERT INTO hotels (id, name, pms_type, pms_version, base_url, property_id) "
                 "VALUES (%s, %s, 'generic', '1', 'http://127.0.0.1', %s) ON CONFLICT DO NOTHING",
                 (hotel, hotel, hotel))
    conn.execute("""INSERT INTO bookings (hotel_id, external_id, status, check_in, check_out, adults,
                      source_updated_at, pms_type, pms_version, config_hash, source_topic,
                      source_partition, source_offset)
                    VALUES (%s, %s, 'CONFIRMED', '2026-05-01', '2026-05-03', 2, now(), 'generic', '1',
                            'h', 'pms.raw.v1', 0, 0) ON CONFLICT DO NOTHING""", (hotel, external_id))


def test_api_role_sees_only_the_hotel_of_the_key_its_transaction_presents(db, database):
    from pmsync.apikeys import create_key, hash_key
    _add_booking(db, "rls-a", "A-1")
    _add_booking(db, "rls-b", "B-1")
    key = create_key(database.dsn, hotel_id="rls-a")
    with psycopg.connect(database.api_dsn) as api:
        assert api.execute("SELECT count(*) FROM bookings").fetchone()[0] == 0
        # Naming a hotel is not enough (migration 0009): only a valid key's hash opens its rows.
        with api.transaction():
            api.execute("SELECT set_config('pmsync.hotel_id', 'rls-a', true)")
            assert api.execute("SELECT count(*) FROM bookings").fetchone()[0] == 0
        with api.transaction():
            api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(key.key),))
            rows = api.execute("SELECT hotel_id, external_id FROM bookings").fetchall()
            hotels = api.execute("SELECT id FROM hotels").fetchall()
        assert rows == [("rls-a", "A-1")]
        assert hotels == [("rls-a",)]
        # Forged filters do not help: the policy, not the WHERE clause, decides.
        with api.transaction():
            api.execute("SELECT set_config('pmsync.key_hash', %s, true)", (hash_key(key.key),))
            assert api.execute("SELECT count(*) FROM bookings WHERE hotel_id = 'rls-b'").fetchone()[0] == 0


def test_api_role_cannot_read_api_keys_or_write_bookings(database):
    with psycopg.connect(database.api_dsn) as api:
        try:
            api.execute("SELECT * FROM api_keys")
            raise AssertionError("api role read api_keys")
        except psycopg.errors.InsufficientPrivilege:
            api.rollback()
        try:
            api.execute("DELETE FROM bookings")
            raise AssertionError("api role deleted bookings")
        except psycopg.errors.InsufficientPrivilege:
            api.rollback()
