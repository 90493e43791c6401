"""Kafka header names and helpers. Headers carry routing and lineage, never secrets."""

from __future__ import annotations

from collections.abc import Iterable

HOTEL_ID = "pms.hotel_id"
PMS_TYPE = "pms.type"
PMS_VERSION = "pms.version"
FETCH_ID = "pms.fetch_id"
FETCHED_AT = "pms.fetched_at"
# JSON: the minimal sub-page a config's `lookup` mappings join against (CompiledConfig.context_for).
CONTEXT = "pms.context"
# The raw message's position, added by the validator so later stages can record lineage.
RAW_TOPIC = "pms.raw.topic"
RAW_PARTITION = "pms.raw.partition"
RAW_OFFSET = "pms.raw.offset"
# Set on a message sent back to the raw topic by `pmsync dlq replay`: the DLQ row's id, and
# which replay of that row it is (1, 2, …), so a failure after it folds into that row once.
REPLAY_OF = "pms.replay_of"
REPLAY_ATTEMPT = "pms.replay_attempt"

Headers = list[tuple[str, bytes]]


def header_dict(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, bytes]:
    """Last value wins, as Kafka clients usually read headers."""
    return dict(headers or ())


def text(headers: dict[str, bytes], key: str) -> str | None:
    value = headers.get(key)
    return value.decode("utf-8", "replace") if value is not None else None
