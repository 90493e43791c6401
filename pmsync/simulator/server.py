"""The simulator's HTTP server (aiohttp): the PMS endpoints of every family plus a control API.

PMS endpoints (one per family/version, see ``render/``) are answered by
``Simulator.respond``. Control API, for tests and the demo:

- ``GET  /_sim/hotels``            the registry (``?credentials=1`` adds the simulator's own
  fake credentials, which the fetcher needs to call it)
- ``POST /_sim/tick``              advance time; body ``{"count": n}`` (optional)
- ``GET  /_sim/truth``             every hotel's ground truth; ``/_sim/truth/{hotel_id}``
- ``GET|POST /_sim/faults``        read / replace fault settings (``faults.py`` shape)
- ``GET  /_sim/healthz``

This module must never log credentials or request bodies (the Mews family sends tokens in
the body).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web

from pmsync.simulator.simulator import Simulator

log = logging.getLogger("pmsync.simulator")
SIMULATOR = web.AppKey("simulator", Simulator)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status,
                        content_type="application/json")


async def _pms(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIMULATOR]
    body = await request.read()
    reply = sim.respond(request.method, request.path, request.query, request.headers, body)
    if reply.delay_seconds:
        await asyncio.sleep(reply.delay_seconds)
    log.debug("served", extra={"path": request.path, "status": reply.status,
                               "hotel_id": reply.hotel_id})
    return web.Response(body=reply.body, status=reply.status, headers=reply.headers)


async def _hotels(request: web.Request) -> web.Response:
    with_credentials = request.query.get("credentials") in ("1", "true")
    return _json({"hotels": request.app[SIMULATOR].hotels(with_credentials)})


async def _tick(request: web.Request) -> web.Response:
    count = 1
    if request.can_read_body:
        try:
            data = orjson.loads(await request.read() or b"{}")
            count = int(data.get("count", 1)) if isinstance(data, dict) else -1
        except (orjson.JSONDecodeError, TypeError, ValueError):
            count = -1
        if not 1 <= count <= 10_000:
            return _json({"error": {"message": "body must be {\"count\": 1..10000}"}}, 400)
    return _json(request.app[SIMULATOR].tick(count))


async def _truth(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    hotel_id = request.match_info.get("hotel_id")
    if hotel_id is not None and hotel_id not in sim.world.hotels:
        return _json({"error": {"message": f"unknown hotel {hotel_id!r}"}}, 404)
    return _json(sim.truth(hotel_id))


async def _faults(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if request.method == "POST":
        try:
            sim.faults.load(orjson.loads(await request.read()))
        except (orjson.JSONDecodeError, ValueError) as exc:
            return _json({"error": {"message": str(exc)}}, 400)
    return _json(sim.faults.as_dict())


async def _healthz(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    return _json({"status": "ok", "hotels": len(sim.world.hotels), "tick": sim.world.ticks})


async def _ticker(app: web.Application, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        app[SIMULATOR].tick()


def create_app(sim: Simulator, tick_seconds: float | None = None) -> web.Application:
    app = web.Application()
    app[SIMULATOR] = sim
    for method, path in sim.routes():
        app.router.add_route(method, path, _pms)
    app.router.add_get("/_sim/hotels", _hotels)
    app.router.add_post("/_sim/tick", _tick)
    app.router.add_get("/_sim/truth", _truth)
    app.router.add_get("/_sim/truth/{hotel_id}", _truth)
    app.router.add_get("/_sim/faults", _faults)
    app.router.add_post("/_sim/faults", _faults)
    app.router.add_get("/_sim/healthz", _healthz)
    if tick_seconds:
        async def background(app: web.Application):  # type: ignore[no-untyped-def]
            task = asyncio.create_task(_ticker(app, tick_seconds))
            yield
            task.cancel()
        app.cleanup_ctx.append(background)
    return app


def run(sim: Simulator, host: str = "127.0.0.1", port: int = 8081,
        tick_seconds: float | None = None) -> None:
    """Serve until interrupted (the ``pmsync simulator`` command)."""
    web.run_app(create_app(sim, tick_seconds), host=host, port=port, print=None,
                access_log=None)
