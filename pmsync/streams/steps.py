"""The two per-message steps of the stream workers, free of Kafka and faust.

``validate_step`` checks a raw message against its PMS version's raw schema; ``map_step``
turns a validated message into the Avro canonical booking with lineage. Each returns a
``Routed``: where the message goes next, or why it is rejected. They never raise for bad
input, so one poison message can never stop an agent.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import orjson

from pmsync.errors import PMSConfigMissingError, PMSDataValidationError, PMSError, PMSMappingError
from pmsync.kafka import headers as h
from pmsync.kafka.dlq import SourcePosition, dlq_headers
from pmsync.serde.avro import encode_row
from pmsync.streams.registry import ConfigRegistry

RAW_TOPIC, RAW_PARTITION, RAW_OFFSET = h.RAW_TOPIC, h.RAW_PARTITION, h.RAW_OFFSET


class Message(NamedTuple):
    """The parts of a consumed Kafka message the steps need (a tuple: one is built per message,
    and a frozen dataclass costs several times more to build)."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str
    partition: int
    offset: int

    @property
    def position(self) -> SourcePosition:
        return SourcePosition(self.topic, self.partition, self.offset)


class Routed(NamedTuple):
    """``ok``: send ``value``/``headers`` on; otherwise send the original bytes to the DLQ.
    ``hotel_id`` is set on rejects only, for the worker's log line."""

    ok: bool
    value: bytes | None
    headers: list[tuple[str, bytes]]
    error: PMSError | None = None
    hotel_id: str | None = None


def _reject(msg: Message, error: PMSError, config=None) -> Routed:
    return Routed(False, msg.value, dlq_headers(error, msg.position,
                                                config_key=getattr(config, "key", None),
                                                config_hash=getattr(config, "hash", None),
                                                original=msg.headers),
                  error, h.text(h.header_dict(msg.headers), h.HOTEL_ID))


def _config_for(registry: ConfigRegistry, headers: dict[str, bytes]):
    if not headers.get(h.HOTEL_ID):
        raise PMSConfigMissingError("message has no pms.hotel_id header; it did not come from the "
                                    "fetcher and cannot be attributed to a hotel")
    compiled = registry.for_headers(headers.get(h.PMS_TYPE), headers.get(h.PMS_VERSION))
    if compiled is None:
        pms_type, version = h.text(headers, h.PMS_TYPE), h.text(headers, h.PMS_VERSION)
        raise PMSConfigMissingError(
            f"no PMS config {pms_type}:{version} is published; publish it with "
            f"`pmsync config publish` and replay this message", path=None)
    return compiled


def _value(msg: Message, error: type[PMSError]) -> bytes:
    if msg.value is None:
        raise error("the message has no value (a tombstone); this topic carries reservations "
                    "only: find the producer that sent it, nothing here needs replaying", path="$")
    return msg.value


def validate_step(registry: ConfigRegistry, msg: Message) -> Routed:
    headers = h.header_dict(msg.headers)
    compiled = None
    try:
        compiled = _config_for(registry, headers)
        record = compiled.parse_record(_value(msg, PMSDataValidationError))
        compiled.validate_raw(record)
    except PMSError as error:
        return _reject(msg, error, compiled)
    kept = msg.headers
    if RAW_TOPIC in headers or RAW_PARTITION in headers or RAW_OFFSET in headers:  # a replay
        kept = [(k, v) for k, v in kept if k not in (RAW_TOPIC, RAW_PARTITION, RAW_OFFSET)]
    return Routed(True, msg.value, kept + _position(msg.topic, msg.partition) + [(RAW_OFFSET, b"%d" % msg.offset)])


@functools.lru_cache(maxsize=1024)
def _position(topic: str, partition: int) -> list[tuple[str, bytes]]:
    """The raw topic and partition headers; cached, as every message of a partition has the
    same (built per message, the position headers were a fifth of the validator's step).
    Callers concatenate, never mutate, the list."""
    return [(RAW_TOPIC, topic.encode()), (RAW_PARTITION, b"%d" % partition)]


def map_step(registry: ConfigRegistry, msg: Message) -> Routed:
    headers = h.header_dict(msg.headers)
    compiled = None
    try:
        compiled = _config_for(registry, headers)
        record = compiled.parse_record(_value(msg, PMSMappingError))
        row = compiled.map_row(record, _context(headers))
        value = encode_row(row, _text(headers[h.HOTEL_ID]), compiled.pms_type, compiled.version,
                           compiled.hash, _text(headers.get(RAW_TOPIC) or msg.topic.encode()),
                           _int_header(headers, RAW_PARTITION, msg.partition),
                           _int_header(headers, RAW_OFFSET, msg.offset))
    except PMSError as error:
        return _reject(msg, error, compiled)
    out = msg.headers
    if h.CONTEXT in headers:
        # The lookup context is raw PMS data (a customer record, say) that mapping read and
        # sanitized what it needed from; it must not ride along on the clean topic.
        out = [(k, v) for k, v in out if k != h.CONTEXT]
    return Routed(True, value, out)


@functools.lru_cache(maxsize=4096)
def _text(value: bytes) -> str:
    """A header value that repeats across messages (hotel id, topic) as text, decoded once."""
    return value.decode("utf-8", "replace")


def _int_header(headers: dict[str, bytes], key: str, default: int) -> int:
    value = headers.get(key)
    if value is None:
        return default
    try:
        return int(value)  # int() reads ASCII digits from bytes as well
    except ValueError:
        text = value.decode("utf-8", "replace")
        raise PMSMappingError(f"header {key}={text!r} is not a number", path=key) from None


def _context(headers: dict[str, bytes]) -> dict | None:
    raw = headers.get(h.CONTEXT)
    if raw is None:
        return None
    try:
        context = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PMSMappingError(f"the pms.context header is not valid JSON ({exc}); re-fetch the hotel",
                              path="pms.context") from None
    if not isinstance(context, dict):
        raise PMSMappingError("the pms.context header must be a JSON object", path="pms.context")
    return context
