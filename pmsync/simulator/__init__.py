"""The PMS simulator: a real HTTP server that serves many hotels in the shipped PMS families
(generic v1/v2, cloudbeds 1.1/1.2, mews 2017-04-12/2023-06-06), each with its own auth,
pagination and "changed since" parameter exactly as ``pms_configs/<type>/<version>.json``'s
``source`` block says, keeps changing their bookings, injects invalid records and faults, and
tells tests what a correct pipeline must end with.

Python API::

    from pmsync.simulator import Simulator, create_app, run

    sim = Simulator(seed=7, hotels=12, base_url="http://127.0.0.1:8081",
                    invalid_rate=0.05, initial_bookings=30,
                    faults={"hotels": {"sim-003": {"error_rate": 0.5}}},
                    clock=None)            # a callable returning an aware UTC datetime
    sim.hotels()      # [{"id", "name", "pms_type", "pms_version", "property_id",
                      #   "credentials": {...}, "base_url", "timezone", "currency"}, ...]
    sim.tick()        # advance the world to clock(): new bookings, changes, invalid records
    sim.truth()       # {"tick", "now", "hotels": {id: {"bookings": [canonical...],
                      #   "invalid": [{"stage", "error_class", "location", ...}]}}}
    sim.truth("sim-001")
    sim.respond(method, path, query, headers, body)   # one PMS request → Reply (no socket)
    run(sim, port=8081, tick_seconds=5)                # serve (blocks)
    app = create_app(sim)                              # aiohttp app, e.g. for TestServer

CLI: ``pmsync simulator --hotels 50 --seed 7 --port 8081 [--faults FILE] [--tick-seconds N]``.
Layout: ``world.py`` (hotels, bookings, time), ``generate.py`` (booking content),
``defects.py`` (invalid records), ``render/`` (canonical → each family's raw format and
requests), ``pages.py`` (filter + paging), ``faults.py``, ``churn.py`` (bookings edited
between the pages of a walk: the ``churn_rate`` fault setting), ``simulator.py`` (one request →
reply), ``server.py`` (aiohttp), ``golden.py`` (golden samples for ``pms_configs/``).

The simulator is a test double: its credentials are generated fakes, and it must never be
pointed at, or pretend to be, a real PMS account.
"""

from pmsync.simulator.server import create_app, run
from pmsync.simulator.simulator import Reply, Simulator

__all__ = ["Reply", "Simulator", "create_app", "run"]
