"""Admin routes: DLQ list and replay, PMS config list and upload with dry run."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from pathlib import Path
from datetime import timedelta

import orjson
import pytest
from kafka import KafkaConsumer

from pmsync.errors import ConfigError, PMSDataValidationError, PMSMappingError
from services.api import admin, create_app
from tests.api.conftest import BASE_TIME, bearer
from tests.ports import unused_port


def test_dlq_lists_newest_first_with_filters_and_pages(client, seed):
    hotel, other = seed.hotel(), seed.hotel()
    ids = [seed.dlq(hotel, failed_at=BASE_TIME + timedelta(minutes=i)) for i in range(5)]
    mapping = seed.dlq(hotel, stage="mapping", error_class="PMSMappingError", value=b"\xff\xfe")
    seed.dlq(other)
    admin = seed.key(admin=True)

    def get(**params):
        response = client.get("/api/admin/dlq", query_string=params, headers=bearer(admin))
        assert response.status_code == 200, response.json
        return response.json

    assert [m["id"] for m in get(hotel=hotel)["data"]] == [mapping, *reversed(ids)]
    only_mapping = get(hotel=hotel, stage="mapping")["data"]
    assert [m["id"] for m in only_mapping] == [mapping]
    assert only_mapping[0]["message_value"] == {"encoding": "base64", "value": "//4="}
    assert [m["id"] for m in get(hotel=hotel, error_class="PMSDataValidationError",
                                since=(BASE_TIME + timedelta(minutes=3)).isoformat())["data"]] == ids[:2:-1]
    first = get(hotel=hotel, limit=4)
    second = get(hotel=hotel, limit=4, cursor=first["next_cursor"])
    assert [m["id"] for m in first["data"] + second["data"]] == [mapping, *reversed(ids)]
    assert second["next_cursor"] is None
    message = first["data"][1]
    assert message["message_value"] == {"encoding": "utf-8", "value": '{"reservation": {}}'}
    assert message["error_message"] == "check_in is missing"
    assert message["message_key"] == {"encoding": "utf-8", "value": hotel}


def test_dlq_replay_sends_messages_back_to_the_raw_topic(client, seed, settings, topics, db):
    hotel = seed.hotel()
    first = seed.dlq(hotel, value=b'{"n": 1}')
    second = seed.dlq(hotel, value=b'{"n": 2}')
    admin = seed.key(admin=True)
    response = client.post("/api/admin/dlq/replay", json={"ids": [second, first, 987654321]},
                           headers=bearer(admin))
    assert response.status_code == 200, response.json
    assert response.json == {"requested": 3, "replayed": 2, "not_found": [987654321]}
    consumer = KafkaConsumer(topics.raw, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    values = sorted(m.value for m in consumer)
    consumer.close()
    assert values == [b'{"n": 1}', b'{"n": 2}']
    replayed = db.execute("SELECT count(*) FROM dlq_messages WHERE id = ANY(%s) AND replay_count = 1",
                          ([first, second],)).fetchone()[0]
    assert replayed == 2


def test_dlq_replay_while_kafka_is_down_is_a_503_to_retry_and_marks_nothing(seed, settings, db):
    down = dataclasses.replace(settings, kafka_bootstrap=f"127.0.0.1:{unused_port()}")
    app = create_app(down, pool_size=1)
    try:
        dlq_id = seed.dlq(seed.hotel(), value=b'{"n": 1}')
        response = app.test_client().post("/api/admin/dlq/replay", json={"ids": [dlq_id]},
                                          headers=bearer(seed.key(admin=True)))
    finally:
        app.extensions["pmsync_pool"].close()
    assert response.status_code == 503, response.json
    assert response.json["error"]["code"] == "kafka_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert db.execute("SELECT replay_count, replayed_at FROM dlq_messages WHERE id = %s",
                      (dlq_id,)).fetchone() == (0, None)


def test_api_workers_do_not_load_kafka_until_a_route_publishes():
    # kafka-python costs ~0.45 s of CPU to import; only DLQ replay and config publish need it.
    code = ("import sys; from services.api import create_app; "
            "print(any(m == 'kafka' or m.startswith('kafka.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


def test_dlq_replay_of_only_unknown_ids_replays_nothing(client, seed):
    response = client.post("/api/admin/dlq/replay", json={"ids": [987654322]},
                           headers=bearer(seed.key(admin=True)))
    assert response.json == {"requested": 1, "replayed": 0, "not_found": [987654322]}


@pytest.fixture
def fake_engine(monkeypatch):
    """A stand-in for pmsync.config with the agreed contract, to test the route by itself:
    load_config raises ConfigError for a config without pms_type; process rejects a record
    without 'id'. Published configs are recorded with the broker wait they were given."""
    published = []

    class Cfg:
        def __init__(self, body):
            self.body, self.pms_type, self.version = body, body["pms_type"], body["version"]
            self.hash = "h-" + body["version"]

    class Compiled:
        def records(self, page):
            return page["data"]

        def context_for(self, record, page):
            return {}

        def validate_raw(self, record):
            if not isinstance(record, dict):
                raise PMSDataValidationError("record must be an object", path="$")

        def process(self, record, context):
            if "id" not in record:
                raise PMSMappingError("external_id: path $.id matched nothing", path="$.id",
                                      field="external_id")
            return {"external_id": str(record["id"])}

    def load_config(body):
        if "pms_type" not in body:
            raise ConfigError([("", "'pms_type' is a required property"),
                               ("/field_mappings/x", "unknown canonical field")])
        return Cfg(body)

    config_mod = types.ModuleType("pmsync.config")
    config_mod.load_config, config_mod.compile_config = load_config, lambda cfg: Compiled()
    store_mod = types.ModuleType("pmsync.config_store")
    store_mod.publish_config = lambda settings, cfg, *, bootstrap_timeout_s: published.append(
        (cfg.pms_type + ":" + cfg.version, bootstrap_timeout_s))
    monkeypatch.setitem(sys.modules, "pmsync.config", config_mod)
    monkeypatch.setitem(sys.modules, "pmsync.config_store", store_mod)
    return published


def test_config_upload_reports_every_config_error_with_its_pointer(client, seed, fake_engine):
    response = client.post("/api/admin/pms-configs", json={"config": {"version": "1"}},
                           headers=bearer(seed.key(admin=True)))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_config"
    assert response.json["error"]["details"] == [
        {"pointer": "/", "message": "'pms_type' is a required property"},
        {"pointer": "/field_mappings/x", "message": "unknown canonical field"}]
    assert fake_engine == []


def test_config_dry_run_returns_rows_and_rejects_and_stores_nothing(client, seed, fake_engine):
    body = {"config": {"pms_type": "acme", "version": "2"}, "dry_run": True,
            "sample": {"data": [{"id": 1}, {"name": "no id"}, {"id": 3}, "not an object"]}}
    response = client.post("/api/admin/pms-configs", json=body, headers=bearer(seed.key(admin=True)))
    assert response.status_code == 200, response.json
    result = response.json
    assert result["published"] is False
    assert result["dry_run"]["records"] == 4
    assert result["dry_run"]["rows"] == [{"external_id": "1"}, {"external_id": "3"}]
    mapping, schema = result["dry_run"]["rejects"]
    assert mapping["index"] == 1 and mapping["stage"] == "mapping" and mapping["field"] == "external_id"
    assert schema["index"] == 3 and schema["stage"] == "schema"
    assert fake_engine == []


def test_config_upload_publishes_unless_dry_run(client, seed, fake_engine):
    config = {"pms_type": "acme", "version": "3"}
    response = client.post("/api/admin/pms-configs", json={"config": config},
                           headers=bearer(seed.key(admin=True)))
    assert response.status_code == 201, response.json
    assert response.json["published"] is True
    assert response.json["config_hash"] == "h-3"
    # Published, waiting the route's short broker wait rather than kafka-python's 30 s.
    assert fake_engine == [("acme:3", admin.BROKER_WAIT_S)]


def test_config_list_shows_stored_configs_without_bodies(client, seed, db):
    db.execute("INSERT INTO pms_configs (pms_type, version, body, config_hash) VALUES "
               "('listed', '1', %s, 'abc') ON CONFLICT DO NOTHING", (orjson.dumps({"secret": 1}).decode(),))
    response = client.get("/api/admin/pms-configs", headers=bearer(seed.key(admin=True)))
    assert response.status_code == 200
    listed = [c for c in response.json["data"] if c["pms_type"] == "listed"]
    assert listed[0]["config_hash"] == "abc" and "body" not in listed[0]


GOLDEN = Path(__file__).resolve().parents[2] / "pms_configs"


@pytest.mark.parametrize("config_path", sorted(GOLDEN.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_dry_run_of_a_shipped_config_on_its_golden_sample_gives_the_golden_bookings(client, seed, config_path):
    """With the real mapping engine: the upload's dry run equals the golden expected.json."""
    golden = config_path.parent / "golden" / config_path.stem
    body = {"config": orjson.loads(config_path.read_bytes()), "dry_run": True,
            "sample": orjson.loads((golden / "raw.json").read_bytes())}
    expected = orjson.loads((golden / "expected.json").read_bytes())
    response = client.post("/api/admin/pms-configs", json=body, headers=bearer(seed.key(admin=True)))
    assert response.status_code == 200, response.json
    result = response.json
    assert result["published"] is False
    assert result["dry_run"]["rows"] == expected["bookings"]
    assert [r["index"] for r in result["dry_run"]["rejects"]] == [r["index"] for r in expected.get("rejects", [])]


def test_uploading_a_shipped_config_stores_and_publishes_it(client, seed, settings, topics):
    config_path = sorted(GOLDEN.glob("*/*.json"))[0]
    config = orjson.loads(config_path.read_bytes())
    admin = seed.key(admin=True)
    response = client.post("/api/admin/pms-configs", json={"config": config}, headers=bearer(admin))
    assert response.status_code == 201, response.json
    assert response.json["published"] is True and response.json["dry_run"] is None
    listed = client.get("/api/admin/pms-configs", headers=bearer(admin)).json["data"]
    stored = [c for c in listed if (c["pms_type"], c["version"]) == (config["pms_type"], config["version"])]
    assert stored and stored[0]["config_hash"] == response.json["config_hash"]
    consumer = KafkaConsumer(topics.configs, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    messages = list(consumer)
    consumer.close()
    assert [orjson.loads(m.value) for m in messages] == [config]


def _booking_from(raw_topic: str, partition: int, offset: int, hotel: str) -> bytes:
    from pmsync.serde.avro import encode_booking
    return encode_booking({
        "external_id": "R-1", "status": "CONFIRMED", "check_in": "2026-05-01", "check_out": "2026-05-04",
        "guest": {"first_name": "Ana", "last_name": None, "email": None, "phone": None},
        "room_number": "204", "room_type": None, "adults": 2, "children": 0, "total_amount": "1.00",
        "currency": "EUR", "source_updated_at": "2026-04-20T08:15:00Z", "hotel_id": hotel,
        "pms_type": "generic", "pms_version": "v1", "config_hash": "c", "source_topic": raw_topic,
        "source_partition": partition, "source_offset": offset})


def test_dlq_replay_of_a_load_reject_sends_the_raw_record_it_was_mapped_from(client, seed, settings, topics, db):
    from kafka import KafkaProducer
    hotel = seed.hotel()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    raw = producer.send(topics.raw, key=hotel.encode(), value=b'{"reservation": 7}',
                        headers=[("pms.hotel_id", hotel.encode()), ("pms.fetch_id", b"fetch-7")]).get(10)
    producer.close()
    replayable = seed.dlq(hotel, stage="load", error_class="PMSLoadError",
                          value=_booking_from(topics.raw, raw.partition, raw.offset, hotel))
    gone = seed.dlq(hotel, stage="load", error_class="PMSLoadError",
                    value=_booking_from(topics.raw, raw.partition, raw.offset + 1000, hotel))
    response = client.post("/api/admin/dlq/replay", json={"ids": [replayable, gone]},
                           headers=bearer(seed.key(admin=True)))
    assert response.json["replayed"] == 1
    consumer = KafkaConsumer(topics.raw, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    replays = [m for m in consumer if dict(m.headers).get("pms.replay_of") is not None]
    consumer.close()
    assert [(m.value, dict(m.headers)["pms.replay_of"], dict(m.headers)["pms.fetch_id"]) for m in replays] == \
        [(b'{"reservation": 7}', str(replayable).encode(), b"fetch-7")]
    counts = dict(db.execute("SELECT id, replay_count FROM dlq_messages WHERE id = ANY(%s)",
                             ([replayable, gone],)).fetchall())
    assert counts == {replayable: 1, gone: 0}
