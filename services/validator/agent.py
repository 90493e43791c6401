"""Validator worker: each raw reservation is checked against its PMS version's raw JSON Schema.
Passes go to the validated topic unchanged; rejects go to the DLQ with the reason."""

from __future__ import annotations

import faust

from pmsync.settings import Settings
from pmsync.streams.app import attach_config_follower, make_app, message_of, raw_topic, route
from pmsync.streams.steps import validate_step


def build(settings: Settings) -> faust.App:
    app = make_app("validator", settings)
    registry = attach_config_follower(app, settings)
    raw = raw_topic(app, settings.topics.raw)
    validated = raw_topic(app, settings.topics.validated)
    dlq = raw_topic(app, settings.topics.dlq)

    @app.agent(raw)
    async def validate(stream):
        await registry.ready.wait()
        async for event in stream.events():
            await route("validator", validate_step(registry, message_of(event)), event.key, validated, dlq)

    return app
