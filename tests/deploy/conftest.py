"""The deploy tier: the image, the compose stack and the Helm chart, run for real under podman.

It installs what it is missing itself (scripts/podman-setup.sh: podman, docker-compose, Helm,
checkov, the base and stand-in images) rather than skipping, so a fresh CI machine runs it.
Run alone: ``.venv/bin/pytest -m deploy tests/deploy`` (the default ``pytest`` run leaves it out).
"""

from __future__ import annotations

import time

import pytest

from tests.deploy import podman

ITEM_TIMEOUT_S = 1800


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this tier ``deploy``; a run that does not ask for it (``-m deploy``) deselects it,
    so ``make test`` keeps its time and its meaning. Deselected, not skipped: it never runs
    half-way or reports a pass it did not earn."""
    wanted = "deploy" in (config.getoption("markexpr") or "")
    chosen, dropped = [], []
    for item in items:
        if "tests/deploy/" in str(item.fspath):
            item.add_marker(pytest.mark.deploy)
            # The first test of a run also builds what is missing (from scratch: ~10 min).
            item.add_marker(pytest.mark.timeout(ITEM_TIMEOUT_S))
            (chosen if wanted else dropped).append(item)
        else:
            chosen.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen


@pytest.fixture(scope="session")
def images() -> float:
    """Tools installed and images built; the seconds it took (0-ish when cached)."""
    seconds = podman.setup()
    print(f"\n[deploy] setup (tools + images): {seconds:.0f} s")
    return seconds


@pytest.fixture(scope="session")
def tier_clock() -> float:
    return time.monotonic()
