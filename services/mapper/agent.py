"""Mapper worker: each validated reservation is mapped to the canonical booking, checked
against the config's rules, sanitized, and sent Avro-encoded to the bookings topic."""

from __future__ import annotations

from pmsync.errors import PMSMappingError
from pmsync.settings import Settings
from pmsync.streams.steps import map_step
from pmsync.streams.worker import WorkerSpec


def spec(settings: Settings) -> WorkerSpec:
    # A booking too large for the bookings topic is a mapping reject: its raw record passed.
    return WorkerSpec("mapper", settings.topics.validated, settings.topics.bookings, map_step,
                      too_large_as=PMSMappingError)
