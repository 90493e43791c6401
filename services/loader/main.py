"""Entry point of the loader service: signals, metrics endpoint, then the loop.

Only process wiring lives here; what a batch is and how it is stored is in ``pmsync.loader``.
SIGTERM/SIGINT stop the loop between batches: a batch that is not yet stored is abandoned
uncommitted (it is read again on restart), never half-committed.
"""

from __future__ import annotations

import logging
import signal
import threading


from pmsync.compiled import log_status
from pmsync.db.migrate import migrate
from pmsync.loader.consume import Loader, LoaderOptions
from pmsync.probes import Probe, serve as serve_probes
from pmsync.runtime import tune_for_batches
from pmsync.settings import Settings

log = logging.getLogger("pmsync.loader")


def run(settings: Settings, options: LoaderOptions, *, metrics_port: int | None = None,
        migrate_first: bool = True) -> None:
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if migrate_first:
        # Several services may start together; migrate() serialises them with an advisory lock.
        migrate(settings.database_url)
    probe = Probe.from_env()
    if metrics_port is not None:
        serve_probes(probe, metrics_port)   # /healthz, /readyz and /metrics on one port
    loader = Loader(settings, options, stop, probe=probe)
    log_status(log)
    tune_for_batches()
    try:
        loader.run()
    finally:
        loader.close()
        log.info("loader stopped")
