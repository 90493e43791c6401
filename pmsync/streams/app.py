"""Faust app factory and runner shared by the stream workers.

Settings that matter for "nothing lost": offsets are committed only after the agent moved past
an event AND faust flushed the producer (faust's at-least-once commit path), acks=all on every
send, and topics are created by ``pmsync topics create`` (never implicitly with defaults).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import faust
from prometheus_client import Counter, start_http_server

from pmsync.kafka.dlq import STAGE
from pmsync.settings import Settings
from pmsync.streams.registry import ConfigRegistry, follow_configs
from pmsync.streams.steps import Message, Routed

PROCESSED = Counter("pmsync_stream_messages_total", "Messages handled by a stream worker",
                    ["worker", "outcome"])
REJECTED = Counter("pmsync_stream_rejects_total", "Messages sent to the DLQ", ["worker", "stage"])

log = logging.getLogger(__name__)


def make_app(role: str, settings: Settings) -> faust.App:
    app = faust.App(
        settings.group_id(role),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_wait_empty=True,
    )
    return app


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw")


def message_of(event: faust.EventT) -> Message:
    m = event.message
    headers = list(m.headers.items()) if isinstance(m.headers, dict) else list(m.headers or [])
    return Message(m.key, m.value, headers, m.topic, m.partition, m.offset)


async def route(role: str, routed: Routed, key: bytes | None, ok: faust.TopicT, dlq: faust.TopicT) -> None:
    """Send a step's result on: the next topic, or the DLQ with the original bytes."""
    if routed.ok:
        await ok.send(key=key, value=routed.value, headers=routed.headers)
        PROCESSED.labels(role, "ok").inc()
        return
    await dlq.send(key=key, value=routed.value or b"", headers=routed.headers)
    stage = dict(routed.headers).get(STAGE, b"").decode()
    PROCESSED.labels(role, "rejected").inc()
    REJECTED.labels(role, stage).inc()
    log.info("message rejected", extra={"worker": role, "hotel_id": routed.hotel_id, "stage": stage,
                                         "error_class": type(routed.error).__name__,
                                         "reason": routed.error.message if routed.error else ""})


def attach_config_follower(app: faust.App, settings: Settings) -> ConfigRegistry:
    """A registry that every agent of ``app`` can wait on, kept current from the configs topic."""
    registry = ConfigRegistry()

    @app.task
    async def follow() -> None:  # noqa: D401 - faust task
        await follow_configs(registry, settings.kafka_bootstrap, settings.topics.configs)

    return registry


def run_worker(build: Callable[[Settings], faust.App], settings: Settings, metrics_port: int | None) -> None:
    """Run a faust worker in this process until SIGTERM/SIGINT."""
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
    app = build(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True,
                          logging_config=_json_logging(settings.log_level))
    worker.execute_from_commandline()


def _json_logging(level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter",
                                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                                "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"}}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": "WARNING"} for name in ("faust", "mode", "aiokafka", "kafka")},
    }

