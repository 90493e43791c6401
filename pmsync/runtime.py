"""Interpreter settings for the pipeline's batch processes (stream workers and loader).

Why the garbage collector is tuned: CPython runs a young-generation collection every 700 new
container objects. A worker's batch makes thousands (a message, a parsed record, a row, a
result per booking), and all of them live until the batch is sent, so those collections free
nothing, only promote the batch into the older generations, whose collections then walk it
again. Fewer, larger young collections and a frozen start-up heap (modules, compiled configs
so far) keep the same protection against reference cycles for a fraction of the work:
each stage alone ran 4-8% more messages/s (bench/pipeline.py, 2026-11-26). bench/pipeline.py's
passthrough processes call this too, so both sides of its ratio run on the same interpreter
settings.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_batches() -> None:
    """Call once, after start-up imports and before the first batch."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
