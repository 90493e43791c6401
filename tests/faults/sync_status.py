"""The fetcher's per-hotel sync status, as an operator reads it: ``pmsync hotels list --json``
(its checkpoint, last error, consecutive failures and, while backing off, next_attempt_at)."""

from __future__ import annotations

import json
import subprocess
import sys

from pmsync.settings import Settings


def sync_status(settings: Settings) -> dict[str, dict]:
    """Per hotel id: the JSON object ``pmsync hotels list --json`` prints for it."""
    result = subprocess.run([sys.executable, "-m", "pmsync.cli", "hotels", "list", "--json"],
                            env=_env(settings), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"pmsync hotels list failed ({result.returncode}): {result.stderr[-2000:]}"
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {row["id"]: row for row in rows}


def _env(settings: Settings) -> dict[str, str]:
    import os
    return {**os.environ, **settings.to_env()}
