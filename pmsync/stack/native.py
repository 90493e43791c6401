"""The stack as one unit: what ``pmsync stack up|down|status`` does."""

from __future__ import annotations

import time

from pmsync.settings import Settings
from pmsync.stack.kafka import KafkaNode
from pmsync.stack.postgres import PostgresCluster


def components(settings: Settings) -> dict[str, KafkaNode | PostgresCluster]:
    return {"postgres": PostgresCluster(settings), "kafka": KafkaNode(settings)}


def up(settings: Settings) -> dict[str, str]:
    """Start what is not running; returns per component 'started' or 'already running'."""
    settings.stack_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, component in components(settings).items():
        started_at = time.monotonic()
        started = component.up()
        result[name] = f"started in {time.monotonic() - started_at:.1f}s" if started else "already running"
    return result


def down(settings: Settings) -> dict[str, str]:
    result = {}
    for name, component in reversed(list(components(settings).items())):
        result[name] = "stopped" if component.down() else "was not running"
    return result


def status(settings: Settings) -> dict[str, str]:
    return {name: component.status() for name, component in components(settings).items()}
