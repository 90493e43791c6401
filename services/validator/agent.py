"""Validator worker: each raw reservation is checked against its PMS version's raw JSON Schema.
Passes go to the validated topic unchanged; rejects go to the DLQ with the reason."""

from __future__ import annotations

from pmsync.settings import Settings
from pmsync.streams.steps import validate_step
from pmsync.streams.worker import WorkerSpec


def spec(settings: Settings) -> WorkerSpec:
    return WorkerSpec("validator", settings.topics.raw, settings.topics.validated, validate_step)
