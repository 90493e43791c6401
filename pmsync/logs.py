"""Structured JSON logs on stderr, one object per line, for every service.

Repeated warnings and errors are rate-limited (``RepeatLimit``): while Kafka is down, its
client logged an ERROR about every 100 ms per worker (5.7k lines in 37 s), which buried the one
line that said what happened. The first of a run shows at once; after that at most one line per
interval, saying how many were held back.

Never log a credential, an API key or a DSN password: log references and ids instead.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from pythonjsonlogger.json import JsonFormatter

# Seconds between two lines of the same repeated warning or error.
REPEAT_INTERVAL_S = 5.0


class RepeatLimit(logging.Filter):
    """Lets the first WARNING-or-worse record of a kind through, then holds back records of
    the same kind for ``interval`` seconds; the first one after that goes out with
    ``repeated`` (how many were held back) and ``repeated_over_s``, and the message says
    "N more like this in the last X s". A kind is the logger, level and message template
    (``record.msg`` before its arguments), so "cannot connect to node 1" and "… node 2" are
    one kind, as a person reading the log would count them.

    Held-back records of a run that then stops are counted in no line: the next one of that
    kind, whenever it comes, reports them. INFO and DEBUG are never held back.
    """

    def __init__(self, interval: float = REPEAT_INTERVAL_S, *, level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic, kinds: int = 1024) -> None:
        super().__init__()
        self.interval = interval
        self.level = level
        self.clock = clock
        self.kinds = kinds  # a bound, so messages formatted before logging cannot grow it forever
        self._runs: OrderedDict[tuple, list] = OrderedDict()   # kind -> [shown_at, held]
        self._lock = threading.Lock()  # handlers are called from any thread

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            run = self._runs.get(kind)
            if run is not None and now - run[0] < self.interval:
                run[1] += 1
                return False
            self._runs[kind] = [now, 0]
            self._runs.move_to_end(kind)
            while len(self._runs) > self.kinds:
                self._runs.popitem(last=False)
        if run is not None and run[1]:
            held, over = run[1], round(now - run[0], 1)
            record.repeated, record.repeated_over_s = held, over
            # Appended to the template: the added text holds no "%", so formatting is unchanged.
            record.msg = f"{record.msg} ({held} more like this in the last {over} s)"
        return True


def setup_logging(level: str = "INFO", service: str = "pmsync") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        static_fields={"service": service},
    ))
    handler.addFilter(RepeatLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Client libraries narrate every connection at INFO; keep their warnings only.
    for noisy in ("kafka", "aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
