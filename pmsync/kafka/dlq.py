"""The dead-letter message: original bytes, and headers that say what failed and where.

Modelled on Kafka Connect's DLQ context headers. Every reject in any stage is built here, so
the DLQ sink, the CLI and the API read one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pmsync.errors import PMSError
from pmsync.kafka.headers import Headers

STAGE = "error.stage"
CLASS = "error.class"
MESSAGE = "error.message"
PATH = "error.path"
SOURCE_TOPIC = "source.topic"
SOURCE_PARTITION = "source.partition"
SOURCE_OFFSET = "source.offset"
CONFIG_VERSION = "config.version"
CONFIG_HASH = "config.hash"
FAILED_AT = "failed.at"

_MAX_MESSAGE = 2000


_ERROR_PREFIXES = ("error.", "source.", "config.", "failed.")


def without_error_headers(headers: Headers | None) -> Headers:
    """The headers a message had before it was dead-lettered (what replay sends again)."""
    return [(k, v) for k, v in (headers or []) if not k.startswith(_ERROR_PREFIXES)]


def error_headers(headers: Headers | None) -> Headers:
    """The headers ``dlq_headers`` added: what failed, where, under which config, when."""
    return [(k, v) for k, v in (headers or []) if k.startswith(_ERROR_PREFIXES)]


@dataclass(frozen=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int


def dlq_headers(error: PMSError, source: SourcePosition, *, config_key: str | None = None,
                config_hash: str | None = None, original: Headers | None = None,
                failed_at: datetime | None = None) -> Headers:
    """The original message's headers (minus stale error ones) followed by the error headers."""
    when = (failed_at or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    kept = without_error_headers(original)
    error_headers = {
        STAGE: error.stage,
        CLASS: type(error).__name__,
        MESSAGE: error.message[:_MAX_MESSAGE],
        PATH: error.location,
        SOURCE_TOPIC: source.topic,
        SOURCE_PARTITION: str(source.partition),
        SOURCE_OFFSET: str(source.offset),
        CONFIG_VERSION: config_key or "",
        CONFIG_HASH: config_hash or "",
        FAILED_AT: when,
    }
    return kept + [(k, v.encode("utf-8")) for k, v in error_headers.items()]
