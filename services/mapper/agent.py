"""Mapper worker: each validated reservation is mapped to the canonical booking, checked
against the config's rules, sanitized, and sent Avro-encoded to the bookings topic."""

from __future__ import annotations

import faust

from pmsync.settings import Settings
from pmsync.streams.app import attach_config_follower, make_app, message_of, raw_topic, route
from pmsync.streams.steps import map_step


def build(settings: Settings) -> faust.App:
    app = make_app("mapper", settings)
    registry = attach_config_follower(app, settings)
    validated = raw_topic(app, settings.topics.validated)
    bookings = raw_topic(app, settings.topics.bookings)
    dlq = raw_topic(app, settings.topics.dlq)

    @app.agent(validated)
    async def map_bookings(stream):
        await registry.ready.wait()
        async for event in stream.events():
            await route("mapper", map_step(registry, message_of(event)), event.key, bookings, dlq)

    return app
