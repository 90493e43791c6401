"""Mapper worker: each validated reservation is mapped to the canonical booking, checked
against the config's rules, sanitized, and sent Avro-encoded to the bookings topic."""

from __future__ import annotations

from pmsync.settings import Settings
from pmsync.streams.steps import map_step
from pmsync.streams.worker import WorkerSpec


def spec(settings: Settings) -> WorkerSpec:
    return WorkerSpec("mapper", settings.topics.validated, settings.topics.bookings, map_step)
