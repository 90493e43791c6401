"""ConfigRegistry without Kafka: a record that does not compile never takes a valid config
away, and a key left with only such a record is settled from the stored (Postgres) copy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pmsync.streams.registry import ConfigRegistry

CONFIG = Path(__file__).resolve().parents[2] / "pms_configs" / "cloudbeds" / "1.2.json"
KEY = "cloudbeds:1.2"
INVALID = b'{"pms_type": "cloudbeds", "version": "1.2"}'


def stored(body: bytes | None):
    calls: list[str] = []

    async def fallback(key: str) -> bytes | None:
        calls.append(key)
        return body
    fallback.calls = calls  # type: ignore[attr-defined]
    return fallback


def settle(registry: ConfigRegistry, fallback) -> bool:
    return asyncio.run(registry.settle(fallback))


def test_an_invalid_record_after_a_valid_one_keeps_the_valid_one_without_asking_postgres():
    registry = ConfigRegistry()
    registry.apply(KEY, CONFIG.read_bytes())
    registry.apply(KEY, INVALID)
    fallback = stored(None)
    assert settle(registry, fallback) and registry.keys() == [KEY] and fallback.calls == []


def test_a_key_left_with_only_an_invalid_record_takes_the_stored_config():
    registry = ConfigRegistry()
    registry.apply(KEY, INVALID)                  # what compaction left
    assert registry.keys() == []
    assert settle(registry, stored(CONFIG.read_bytes()))
    assert registry.get("cloudbeds", "1.2") is not None


def test_a_tombstone_removes_a_config_only_once_postgres_no_longer_holds_it():
    registry = ConfigRegistry()
    registry.apply(KEY, CONFIG.read_bytes())
    registry.apply(KEY, None)
    assert settle(registry, stored(CONFIG.read_bytes())) and registry.keys() == [KEY]
    registry.apply(KEY, None)
    assert settle(registry, stored(None)) and registry.keys() == []


def test_postgres_down_leaves_the_key_undecided_for_the_next_try():
    async def down(key: str) -> bytes | None:
        raise OSError("connection refused")

    registry = ConfigRegistry()
    registry.apply(KEY, INVALID)
    assert not settle(registry, down) and KEY in registry.doubtful
    assert settle(registry, stored(CONFIG.read_bytes())) and registry.keys() == [KEY]


@pytest.mark.parametrize("body", [INVALID, b"\x00 not json"])
def test_a_rejected_record_is_remembered_with_its_reason(body):
    registry = ConfigRegistry()
    registry.apply(KEY, body)
    assert KEY in registry.rejected and registry.rejected[KEY]
