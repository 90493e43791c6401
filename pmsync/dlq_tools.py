"""The DLQ after the fact: a sink that keeps every reject in Postgres (so people can list and
replay them without reading Kafka), queries over it, and replay back to the raw topic.

Replay sends the original bytes with the original fetcher headers (error headers removed) to
the raw topic (for a booking the loader rejected, the raw record it was mapped from); the
pipeline treats it like any fetched record and the idempotent upsert makes sure a replayed
booking is stored once. A replay that fails again lands in the DLQ again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer
from kafka import KafkaConsumer, TopicPartition
from psycopg.rows import dict_row

from pmsync.errors import PMSLoadError
from pmsync.kafka import dlq, headers as h
from pmsync.kafka.acked import DEFAULT_BOOTSTRAP_TIMEOUT_S, acked_producer
from pmsync.serde.avro import MAGIC, decode_booking
from pmsync.settings import Settings

log = logging.getLogger(__name__)

_INSERT = """
INSERT INTO dlq_messages (dlq_partition, dlq_offset, hotel_id, stage, error_class, error_message,
    error_path, source_topic, source_partition, source_offset, pms_type, pms_version,
    config_version, config_hash, failed_at, message_key, message_value, headers, origin)
VALUES (%(dlq_partition)s, %(dlq_offset)s, %(hotel_id)s, %(stage)s, %(error_class)s,
    %(error_message)s, %(error_path)s, %(source_topic)s, %(source_partition)s, %(source_offset)s,
    %(pms_type)s, %(pms_version)s, %(config_version)s, %(config_hash)s, %(failed_at)s,
    %(message_key)s, %(message_value)s, %(headers)s, %(origin)s)
ON CONFLICT DO NOTHING
"""


def row_from_message(partition: int, offset: int, key: bytes | None, value: bytes | None,
                     headers: list[tuple[str, bytes]]) -> dict:
    hd = h.header_dict(headers)

    def text(name: str) -> str | None:
        return h.text(hd, name) or None

    def number(name: str) -> int | None:
        value_ = text(name)
        return int(value_) if value_ and value_.lstrip("-").isdigit() else None

    failed_at = text(dlq.FAILED_AT)
    # One row per distinct failed record: the same bytes failing the same stage under the
    # same config (a re-fetch, or a worker re-sending after a crash) fold into the first row.
    hotel = text(h.HOTEL_ID) or (key.decode("utf-8", "replace") if key else "")
    digest = hashlib.sha256(value or b"").hexdigest()
    origin = f"{hotel}:{text(dlq.STAGE)}:{text(dlq.CONFIG_HASH) or ''}:{digest}"
    return {
        "origin": origin,
        "dlq_partition": partition, "dlq_offset": offset,
        "hotel_id": text(h.HOTEL_ID) or (key.decode("utf-8", "replace") if key else None),
        "stage": text(dlq.STAGE) or "unknown",
        "error_class": text(dlq.CLASS) or "unknown",
        "error_message": text(dlq.MESSAGE) or "(no error.message header)",
        "error_path": text(dlq.PATH),
        "source_topic": text(dlq.SOURCE_TOPIC), "source_partition": number(dlq.SOURCE_PARTITION),
        "source_offset": number(dlq.SOURCE_OFFSET),
        "pms_type": text(h.PMS_TYPE), "pms_version": text(h.PMS_VERSION),
        "config_version": text(dlq.CONFIG_VERSION), "config_hash": text(dlq.CONFIG_HASH),
        "failed_at": datetime.fromisoformat(failed_at) if failed_at else datetime.now().astimezone(),
        "message_key": key, "message_value": value or b"",
        "headers": orjson.dumps({k: v.decode("utf-8", "replace") for k, v in headers}).decode(),
    }


async def run_sink(settings: Settings, stop: asyncio.Event) -> None:
    """Copy the DLQ topic into ``dlq_messages``; offsets are committed after the insert."""
    consumer = AIOKafkaConsumer(settings.topics.dlq, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=settings.group_id("dlq-sink"), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        with psycopg.connect(settings.database_url) as conn:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                rows = [row_from_message(r.partition, r.offset, r.key, r.value, list(r.headers or []))
                        for records in batch.values() for r in records]
                if not rows:
                    continue
                with conn.cursor() as cur:
                    cur.executemany(_INSERT, rows)
                conn.commit()
                await consumer.commit()
    finally:
        await consumer.stop()


@dataclass
class DlqFilter:
    hotel_id: str | None = None
    stage: str | None = None
    error_class: str | None = None
    since: datetime | None = None
    ids: list[int] | None = None
    not_replayed: bool = False
    limit: int = 100

    def where(self) -> tuple[str, dict]:
        clauses, params = [], {}
        for column in ("hotel_id", "stage", "error_class"):
            if getattr(self, column):
                clauses.append(f"{column} = %({column})s")
                params[column] = getattr(self, column)
        if self.since:
            clauses.append("failed_at >= %(since)s")
            params["since"] = self.since
        if self.ids is not None:
            clauses.append("id = ANY(%(ids)s)")
            params["ids"] = self.ids
        if self.not_replayed:
            clauses.append("replayed_at IS NULL")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_COLUMNS = ("id, hotel_id, stage, error_class, error_message, error_path, source_topic, "
            "source_partition, source_offset, pms_type, pms_version, config_version, config_hash, "
            "failed_at, replayed_at, replay_count")


def list_rejects(conn: psycopg.Connection, flt: DlqFilter) -> list[dict]:
    where, params = flt.where()
    params["limit"] = flt.limit
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM dlq_messages{where} ORDER BY id LIMIT %(limit)s",
                           params).fetchall()


def show_reject(conn: psycopg.Connection, dlq_id: int) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS}, message_key, message_value, headers "
                           "FROM dlq_messages WHERE id = %s", (dlq_id,)).fetchone()


def counts_by_reason(conn: psycopg.Connection) -> list[tuple[str, str, str, int]]:
    return conn.execute("""SELECT stage, error_class, error_message, count(*) FROM dlq_messages
                           GROUP BY 1, 2, 3 ORDER BY 4 DESC""").fetchall()


def replay(settings: Settings, ids: list[int], conn: psycopg.Connection | None = None, *,
           bootstrap_timeout_s: float = DEFAULT_BOOTSTRAP_TIMEOUT_S) -> int:
    """Send the given DLQ rows back to the raw topic; returns how many were sent."""
    if conn is None:
        with psycopg.connect(settings.database_url) as owned:
            return _replay(settings, ids, owned, bootstrap_timeout_s)
    return _replay(settings, ids, conn, bootstrap_timeout_s)


def _replay(settings: Settings, ids: list[int], conn: psycopg.Connection, bootstrap_timeout_s: float) -> int:
    rows = conn.execute("SELECT id, message_key, message_value, headers FROM dlq_messages "
                        "WHERE id = ANY(%s) ORDER BY id", (ids,)).fetchall()
    if not rows:
        return 0
    producer = acked_producer(settings, "pmsync-dlq-replay", bootstrap_timeout_s=bootstrap_timeout_s)
    sent, unresolved = [], []
    try:
        for dlq_id, key, value, headers in rows:
            value = bytes(value)
            original = [(k, v.encode()) for k, v in headers.items()]
            if value[:2] == MAGIC:
                # Rejected by the loader: the bytes are the mapped booking, which the raw topic
                # cannot take. Replay the raw record it came from (its lineage says where).
                raw = _raw_record(settings, value)
                if raw is None:
                    unresolved.append(dlq_id)
                    continue
                key, value, original = raw
            kept = [(k, v) for k, v in dlq.without_error_headers(original)
                    if k not in (h.REPLAY_OF, h.RAW_TOPIC, h.RAW_PARTITION, h.RAW_OFFSET)]
            producer.send(settings.topics.raw, key=key, value=value,
                          headers=kept + [(h.REPLAY_OF, str(dlq_id).encode())])
            sent.append(dlq_id)
        producer.flush(timeout=60)
    finally:
        producer.close()
    conn.execute("UPDATE dlq_messages SET replayed_at = now(), replay_count = replay_count + 1 "
                 "WHERE id = ANY(%s)", (sent,))
    conn.commit()
    if unresolved:
        log.warning("dlq rows not replayed: their raw record is no longer in the raw topic",
                    extra={"ids": unresolved})
    log.info("dlq replayed", extra={"count": len(sent)})
    return len(sent)


def _raw_record(settings: Settings, booking_bytes: bytes) -> tuple | None:
    """(key, value, headers) of the raw message a booking was mapped from, or None when its
    lineage cannot be read or the raw topic no longer holds that offset (retention)."""
    try:
        booking = decode_booking(booking_bytes)
    except PMSLoadError:
        return None
    where = TopicPartition(booking["source_topic"], booking["source_partition"])
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             client_id="pmsync-dlq-replay", consumer_timeout_ms=5000)
    try:
        consumer.assign([where])
        consumer.seek(where, booking["source_offset"])
        record = next(consumer, None)  # None after consumer_timeout_ms
        if record is None or record.offset != booking["source_offset"]:
            return None  # nothing there, or the offset is gone and the consumer moved past it
        return record.key, record.value, list(record.headers or [])
    finally:
        consumer.close()
