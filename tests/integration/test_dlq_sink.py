"""``pmsync dlq sink`` on real Kafka and Postgres: a Postgres outage does not end it, and every
DLQ record is stored exactly once afterwards. The outage is local to the test: the sink talks
to Postgres through a TCP proxy the test controls, which refuses and drops connections while
"down" (the shared Postgres is never stopped)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from kafka import KafkaProducer

from pmsync.dlq_tools import run_sink
from pmsync.errors import PMSDataValidationError
from pmsync.kafka.dlq import SourcePosition, dlq_headers
from pmsync.kafka.lag import lag
from pmsync.settings import Settings
from tests.ports import unused_port

pytestmark = pytest.mark.integration


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to a target while up; while down, closes every new connection
    at once. ``down()`` also cuts the connections that are open: an outage mid-conversation."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = unused_port()
        self.up = False
        self._live: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._live += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def down(self) -> None:
        self.up = False
        with self._lock:
            live, self._live = self._live, []
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self.down()
        self._server.close()


class SinkThread:
    def __init__(self, settings: Settings) -> None:
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(settings,), daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _main(self, settings: Settings) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            self._ready.set()
            await run_sink(settings, self.stop_event, retry_backoff_s=0.05, retry_backoff_max_s=0.5)
        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:  # noqa: BLE001 - handed to the test in stop()
            self.error = exc

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        if self.alive():
            self._loop.call_soon_threadsafe(self.stop_event.set)
            self._thread.join(60)
        if self.error is not None:
            raise AssertionError(f"the sink died: {self.error!r}") from self.error


def send_dead_letters(settings: Settings, hotel: str, first: int, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for i in range(first, first + count):
        error = PMSDataValidationError(f"record {i}: adults is not an integer", path="$.adults")
        producer.send(settings.topics.dlq, key=hotel.encode(), value=b'{"id": "%d"}' % i,
                      headers=dlq_headers(error, SourcePosition(settings.topics.raw, 0, i),
                                          original=[("pms.hotel_id", hotel.encode())]))
    producer.flush()
    producer.close()


def stored(db, hotel: str) -> list[tuple[int, int]]:
    return db.execute("SELECT dlq_partition, dlq_offset FROM dlq_messages WHERE hotel_id = %s "
                      "ORDER BY 1, 2", (hotel,)).fetchall()


def committed_everything(settings: Settings) -> bool:
    group = settings.group_id("dlq-sink")
    return lag(settings, [(group, settings.topics.dlq)])[group] == 0


def wait_for(what: str, condition, sink: SinkThread, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert sink.alive(), f"the sink stopped: {sink.error!r}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_sink_survives_a_postgres_outage_and_stores_every_record_once(settings, topics, db):
    url = urlsplit(settings.database_url)
    proxy = FlakyProxy((url.hostname, url.port))
    through_proxy = dataclasses.replace(settings, database_url=urlunsplit(
        url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{proxy.port}")))
    hotel = f"sink-{proxy.port}"
    sink = None
    try:
        send_dead_letters(settings, hotel, 0, 20)
        sink = SinkThread(through_proxy)       # Postgres unreachable from the start
        time.sleep(3)
        assert sink.alive() and stored(db, hotel) == [] and not committed_everything(settings)

        proxy.up = True                        # back: the kept batch is stored
        wait_for("the first records", lambda: len(stored(db, hotel)) == 20, sink)
        wait_for("the first commit", lambda: committed_everything(settings), sink)

        proxy.down()                           # down again, cutting the sink's open connection
        send_dead_letters(settings, hotel, 20, 15)
        time.sleep(3)
        assert sink.alive() and len(stored(db, hotel)) == 20 and not committed_everything(settings)

        proxy.up = True
        wait_for("every record", lambda: len(stored(db, hotel)) == 35 and committed_everything(settings), sink)
    finally:
        if sink is not None:
            sink.stop()
        proxy.close()
    rows = stored(db, hotel)
    assert len(rows) == len(set(rows)) == 35
    offsets = db.execute("SELECT error_message FROM dlq_messages WHERE hotel_id = %s", (hotel,)).fetchall()
    assert sorted(int(m.split()[1].rstrip(":")) for (m,) in offsets) == list(range(35))


def test_poison_on_the_dlq_topic_is_stored_once_and_the_sink_goes_on(settings, topics, db):
    # Foreign or broken messages on the DLQ topic itself: no headers, a tombstone, text
    # Postgres cannot hold (NUL bytes in the key and in a header). Each becomes one row.
    hotel = f"sinkpoison-{unused_port()}"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    producer.send(settings.topics.dlq, key=f"{hotel}-bare".encode(), value=b"\x00\xff garbage")
    producer.send(settings.topics.dlq, key=f"{hotel}-tomb".encode(), value=None)
    producer.send(settings.topics.dlq, key=f"{hotel}-nul\x00".encode(), value=b"{}",
                  headers=[("error.message", b"bad\x00byte"), ("x-note", b"a\x00b")])
    producer.flush()
    producer.close()
    sink = SinkThread(settings)
    try:
        wait_for("the poison rows", lambda: committed_everything(settings), sink)
    finally:
        sink.stop()
    rows = db.execute("SELECT hotel_id, stage, error_message, message_value FROM dlq_messages "
                      "WHERE hotel_id LIKE %s ORDER BY hotel_id", (f"{hotel}-%",)).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(f"{hotel}-bare", "unknown"), (f"{hotel}-nul\ufffd", "unknown"),
                                            (f"{hotel}-tomb", "unknown")]
    assert bytes(rows[0][3]) == b"\x00\xff garbage" and bytes(rows[2][3]) == b""
    assert "replaced characters Postgres cannot store" in rows[1][2]


def test_rejects_of_a_dlq_topic_created_again_are_not_taken_for_stored_ones(services, database, db):
    # A DLQ topic deleted and created again (or a second pipeline on the same database) starts
    # at offset 0 again; keyed on partition and offset alone, its rejects were dropped silently.
    from pmsync.kafka.topics import create_topics, delete_topics
    from tests.conftest import make_settings

    hotel = f"again-{unused_port()}"
    for run in range(2):
        settings = dataclasses.replace(make_settings(services, database), partitions=1)
        create_topics(settings)
        try:
            send_dead_letters(settings, hotel, run, 1)      # offset 0 of partition 0 both times
            sink = SinkThread(settings)
            try:
                wait_for("the reject", lambda: committed_everything(settings), sink)
            finally:
                sink.stop()
        finally:
            delete_topics(settings)
    assert stored(db, hotel) == [(0, 0), (0, 0)]
