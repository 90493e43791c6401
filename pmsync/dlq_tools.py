"""The DLQ after the fact: a sink that keeps every reject in Postgres (so people can list and
replay them without reading Kafka), queries over it, and replay back to the raw topic.

Replay sends the original bytes with the original fetcher headers (error headers removed) to
the raw topic (for a booking the loader rejected, the raw record it was mapped from); the
pipeline treats it like any fetched record and the idempotent upsert makes sure a replayed
booking is stored once. A replay that fails again lands in the DLQ again, and the sink folds
that failure into the replayed row (``pms.replay_of``/``pms.replay_attempt`` travel with the
replay): the row is failed again, with its attempts, latest reason and history (migration 0012).

The sink survives Postgres outages: a batch it cannot write is retried with backoff, with the
Kafka consumer kept alive meanwhile, and its offsets are committed only after the database
commit. Writes are idempotent (unique DLQ position and origin, attempt-guarded updates), so a
batch written twice, because the commit's answer was lost or the group rebalanced, is stored once.
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
from aiokafka.errors import CommitFailedError
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka import KafkaConsumer, TopicPartition
from psycopg.rows import dict_row

from pmsync.errors import PMSLoadError
from pmsync.kafka import dlq, headers as h
from pmsync.kafka.acked import DEFAULT_BOOTSTRAP_TIMEOUT_S, acked_producer
from pmsync.probes import Probe
from pmsync.serde.avro import MAGIC, decode_booking
from pmsync.settings import Settings

log = logging.getLogger(__name__)

_INSERT = """
INSERT INTO dlq_messages (dlq_topic, dlq_partition, dlq_offset, hotel_id, stage, error_class, error_message,
    error_path, source_topic, source_partition, source_offset, pms_type, pms_version,
    config_version, config_hash, failed_at, message_key, message_value, headers, origin, last_failed_at)
VALUES (%(dlq_topic)s, %(dlq_partition)s, %(dlq_offset)s, %(hotel_id)s, %(stage)s, %(error_class)s,
    %(error_message)s, %(error_path)s, %(source_topic)s, %(source_partition)s, %(source_offset)s,
    %(pms_type)s, %(pms_version)s, %(config_version)s, %(config_hash)s, %(failed_at)s,
    %(message_key)s, %(message_value)s, %(headers)s, %(origin)s, %(failed_at)s)
ON CONFLICT DO NOTHING
"""

# A failure after replay N of row ``replay_of``: the row is failed again (replayed_at NULL),
# with attempts N + 1 and the latest reason; the reason before it goes to ``history``. The
# ``attempts`` guard makes it count once however often the DLQ message is delivered. Without a
# replay_attempt header (a replay sent before migration 0012) the row's replay count stands in.
_REFAIL = """
UPDATE dlq_messages SET
    attempts = coalesce(%(replay_attempt)s, replay_count) + 1, replayed_at = NULL,
    last_failed_at = %(failed_at)s, stage = %(stage)s, error_class = %(error_class)s,
    error_message = %(error_message)s, error_path = %(error_path)s,
    config_version = %(config_version)s, config_hash = %(config_hash)s,
    history = history || jsonb_build_object(
        'failed_at', coalesce(last_failed_at, failed_at), 'stage', stage, 'error_class', error_class,
        'error_message', error_message, 'config_hash', config_hash, 'replayed_at', last_replayed_at)
WHERE id = %(replay_of)s AND attempts <= coalesce(%(replay_attempt)s, replay_count)
"""


def row_from_message(partition: int, offset: int, key: bytes | None, value: bytes | None,
                     headers: list[tuple[str, bytes]], topic: str | None = None) -> dict:
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
    replay_of, replay_attempt = number(h.REPLAY_OF), number(h.REPLAY_ATTEMPT)
    return {
        "replay_of": replay_of, "replay_attempt": replay_attempt,
        "origin": origin,
        "dlq_topic": topic, "dlq_partition": partition, "dlq_offset": offset,
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


async def run_sink(settings: Settings, stop: asyncio.Event, *, retry_backoff_s: float = 0.5,
                   retry_backoff_max_s: float = 30.0, probe: Probe | None = None) -> None:
    """Copy the DLQ topic into ``dlq_messages`` until ``stop``; offsets are committed after
    the insert. Postgres being down never ends it: the batch is retried until it is stored."""
    consumer = AIOKafkaConsumer(settings.topics.dlq, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=settings.group_id("dlq-sink"), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    store = SinkStore(settings.database_url)
    probe = probe or Probe()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            probe.polled(len(consumer.assignment()), sum(map(len, batch.values())))
            rows = [row_from_message(r.partition, r.offset, r.key, r.value, list(r.headers or []), r.topic)
                    for records in batch.values() for r in records]
            if not rows:
                continue
            failures = 0
            while True:
                try:
                    # In a thread: the consumer's heartbeats go on however long Postgres takes.
                    await asyncio.to_thread(store.write, rows)
                    break
                except psycopg.OperationalError as exc:
                    failures += 1
                    delay = min(retry_backoff_max_s, retry_backoff_s * 2 ** (failures - 1))
                    log.error("dlq sink cannot write to Postgres; the batch is kept and retried", extra={
                        "error_class": type(exc).__name__, "rows": len(rows), "attempt": failures,
                        "retry_in_s": round(delay, 2)})
                    store.close()
                    probe.polled(len(consumer.assignment()), len(rows))   # alive, not progressing
                    if await _stopped(stop, delay):
                        return  # uncommitted: read again at the next start
            offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
            try:
                await consumer.commit(offsets)
                probe.progressed()
            except (CommitFailedError, AIOKafkaError) as exc:
                # Stored already; whoever reads these again stores nothing twice.
                log.warning("dlq sink offset commit failed; the batch may be read again",
                            extra={"error_class": type(exc).__name__})
    finally:
        store.close()
        await consumer.stop()


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


class SinkStore:
    """The sink's one connection to Postgres, opened again after it is lost."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.conn: psycopg.Connection | None = None

    def write(self, rows: list[dict]) -> None:
        """Store ``rows`` in one transaction; raises psycopg.OperationalError (nothing or all
        of it committed, and writing again is harmless) when Postgres cannot be reached."""
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.database_url, connect_timeout=5,
                                        application_name="pmsync-dlq-sink")
        with self.conn.transaction():
            fresh = [row for row in rows if row["replay_of"] is None or not _refail(self.conn, row)]
            try:
                with self.conn.transaction(), self.conn.cursor() as cur:  # a savepoint
                    cur.executemany(_INSERT, fresh)   # pipelined: one round trip, not one per row
            except (psycopg.DataError, psycopg.IntegrityError):
                for row in fresh:                     # find the row Postgres refuses
                    _insert(self.conn, row)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = None


def _refail(conn: psycopg.Connection, row: dict) -> bool:
    """Fold a failure after a replay into the replayed row; False when that row is gone (the
    failure is then stored as a row of its own)."""
    if conn.execute(_REFAIL, row).rowcount:
        return True
    # Folded in already (the DLQ message came again), or no such row.
    return conn.execute("SELECT 1 FROM dlq_messages WHERE id = %s", (row["replay_of"],)).fetchone() is not None


def _insert(conn: psycopg.Connection, row: dict) -> None:
    try:
        with conn.transaction():  # a savepoint: one row Postgres refuses must not stop the sink
            conn.execute(_INSERT, row)
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        # Text Postgres cannot hold (a NUL byte in a header or key, say): keep the row with
        # those characters replaced, and say so, rather than lose it or stall on it.
        clean = {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in row.items()}
        clean["headers"] = clean["headers"].replace("\\u0000", "\ufffd")
        clean["error_message"] += (f" [the DLQ sink replaced characters Postgres cannot store: "
                                   f"{type(exc).__name__}]")
        conn.execute(_INSERT, clean)


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
            "failed_at, replayed_at, replay_count, attempts, last_failed_at, last_replayed_at")


def list_rejects(conn: psycopg.Connection, flt: DlqFilter) -> list[dict]:
    where, params = flt.where()
    params["limit"] = flt.limit
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM dlq_messages{where} ORDER BY id LIMIT %(limit)s",
                           params).fetchall()


def show_reject(conn: psycopg.Connection, dlq_id: int) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS}, history, message_key, message_value, headers "
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
    rows = conn.execute("SELECT id, message_key, message_value, headers, replay_count FROM dlq_messages "
                        "WHERE id = ANY(%s) ORDER BY id", (ids,)).fetchall()
    if not rows:
        return 0
    producer = acked_producer(settings, "pmsync-dlq-replay", bootstrap_timeout_s=bootstrap_timeout_s)
    sent, unresolved = [], []
    try:
        for dlq_id, key, value, headers, replays in rows:
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
                    if k not in (h.REPLAY_OF, h.REPLAY_ATTEMPT, h.RAW_TOPIC, h.RAW_PARTITION, h.RAW_OFFSET)]
            producer.send(settings.topics.raw, key=key, value=value,
                          headers=kept + [(h.REPLAY_OF, str(dlq_id).encode()),
                                          (h.REPLAY_ATTEMPT, str(replays + 1).encode())])
            sent.append((dlq_id, replays + 1))
        producer.flush(timeout=60)
    finally:
        producer.close()
    # The sink may have folded a failure of this very replay in already (attempts > n): the
    # row then stays failed; it shows as replayed only while nothing failed after the replay.
    with conn.cursor() as cur:
        cur.executemany("""UPDATE dlq_messages SET replay_count = greatest(replay_count, %(n)s),
                               last_replayed_at = now(),
                               replayed_at = CASE WHEN attempts > %(n)s THEN NULL ELSE now() END
                           WHERE id = %(id)s""", [{"id": i, "n": n} for i, n in sent])
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
